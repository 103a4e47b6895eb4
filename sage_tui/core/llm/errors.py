"""Typed model-call failures, each one sentence a user can act on.

`kind` is what ERROR events and the UI use to pick a banner; `message` (the
exception text) is the sentence itself.
"""

from __future__ import annotations

from sage_tui.core.errors import SageError


class LLMError(SageError):
    """A model call failed."""

    kind = "model_error"


class OllamaUnreachable(LLMError):
    kind = "unreachable"

    def __init__(self, host: str) -> None:
        self.host = host
        super().__init__(f"Cannot reach Ollama at {host}; start it with `ollama serve`, "
                         "or set OLLAMA_HOST to where it runs.")


class ModelNotFound(LLMError):
    kind = "model_not_found"

    def __init__(self, model: str, host: str) -> None:
        self.model = model
        self.host = host
        super().__init__(f"The model {model!r} is not pulled on {host}; run "
                         f"`ollama pull {model}`, or choose another model in models.yaml.")


class ModelTimeout(LLMError):
    kind = "timeout"

    def __init__(self, model: str, role: str, seconds: float) -> None:
        self.model = model
        self.seconds = seconds
        super().__init__(f"The {role} model {model} did not answer within {seconds:g} s; it may "
                         "still be loading, so try again, or use a smaller model.")


class ServerUnreachable(OllamaUnreachable):
    """An OpenAI-compatible server (llama.cpp, vLLM, LM Studio) that does not answer."""

    def __init__(self, host: str) -> None:
        self.host = host
        LLMError.__init__(self, f"Cannot reach the OpenAI-compatible server at {host}; start it "
                          "(llama-server, vllm serve), or fix the role's host in models.yaml.")


class KeyRefused(LLMError):
    kind = "unauthorized"

    def __init__(self, host: str, status: int) -> None:
        self.host = host
        super().__init__(f"The server at {host} refused the key (HTTP {status}); set the "
                         "variable the role's api_key_env names in models.yaml to a valid key.")


class NotServed(ModelNotFound):
    """A model an OpenAI-compatible server does not serve (it cannot pull one)."""

    def __init__(self, model: str, host: str, detail: str = "") -> None:
        self.model = model
        self.host = host
        LLMError.__init__(self, f"The model {model!r} is not served at {host}; start the "
                          "server with it, or name one it serves in models.yaml (`sage doctor` "
                          "lists them).")


class ProtocolError(LLMError):
    kind = "protocol"

    def __init__(self, host: str, detail: str, server: str = "Ollama") -> None:
        self.host = host
        advice = ("check that OLLAMA_HOST points at Ollama and that Ollama is up to date"
                  if server == "Ollama" else f"check that the role's host is {server}")
        super().__init__(f"The server at {host} sent a reply SAGE cannot read ({detail}); "
                         f"{advice}.")


class ModelFailed(LLMError):
    kind = "model_error"

    def __init__(self, model: str, host: str, detail: str, status: int | None = None,
                 server: str = "Ollama") -> None:
        self.model = model
        self.status = status
        where = f"HTTP {status}" if status and status > 0 else "mid-reply"
        at = f"{server} at {host}"
        super().__init__(f"{at} reported an error from {model or 'the model'} ({where}): "
                         f"{detail.rstrip('.')}.")


class ToolsUnsupported(LLMError):
    kind = "tools_unsupported"

    def __init__(self, model: str) -> None:
        self.model = model
        super().__init__(f"The model {model} does not support tool calls; SAGE asks it for "
                         "JSON tool calls in plain text instead.")


class ReplyTooLong(LLMError):
    kind = "reply_too_long"

    def __init__(self, model: str, limit: int) -> None:
        self.model = model
        super().__init__(f"The reply from {model} passed {limit:,} characters and was cut off; "
                         "ask for a shorter answer (a model that repeats itself may need a lower "
                         "temperature or a stop word in models.yaml).")
