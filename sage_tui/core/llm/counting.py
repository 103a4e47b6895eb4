"""Per-model token counters, chosen by the model's server.

Three ways to count, best first; TOKEN_USAGE's `estimator` says which one a prompt got:

* `server`: the server's own tokenizer (an OpenAI-compatible server's `/tokenize`,
  as llama.cpp's server and vLLM offer it). Asked once per distinct text before the call,
  concurrently and within a short deadline; counts are remembered by the text's digest
  (system prompts and packets repeat call after call).
* `calibrated`: `estimate_tokens` scaled by what this model's server reported for earlier
  prompts (Ollama's `prompt_eval_count`, OpenAI `usage.prompt_tokens`) or counted with its
  tokenizer. Never exact; a little high on purpose.
* `heuristic`: `estimate_tokens` alone, before the server has told anything.

Counting never fails a turn: a tokenizer that is not offered (404, 405, refused) is
remembered and not asked again; one that is slow or broken is given up for the prompt at
hand (estimates stand in) and asked again a minute later.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable

from sage_tui.core.llm.tokens import estimate_tokens
from sage_tui.core.llm.types import ChatBackend, TokenizerFailed, TokenizerUnavailable, Tokenizes
from sage_tui.core.log.events import Estimator

TOKENIZE_DEADLINE = 2.0  # seconds one prompt's counting may take before estimates stand in
RETRY_AFTER = 60.0  # seconds before a slow or failing tokenizer is asked again
CONCURRENCY = 4
CACHE_SIZE = 4096
MARGIN = 1.1  # a calibrated count errs high: texts differ from the ones it learned from
RATIO_RANGE = (0.5, 2.0)  # server/estimate ratios outside it are a cache hit or a cut prompt
_LEARN_MIN = 64  # estimated tokens: a ratio learned from less is noise

Tokenize = Callable[[str], Awaitable[int]]


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class ModelCounter:
    """Counts one model's tokens, as well as its server allows.

    `count` is synchronous (the context builder calls it many times): it answers from the
    server's counts fetched by `prepare`, else with the (calibrated) estimate.
    """

    def __init__(self, tokenize: Tokenize | None = None, *,
                 deadline: float = TOKENIZE_DEADLINE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._tokenize = tokenize
        self.deadline = deadline
        self._clock = clock
        self.offered: bool | None = None if tokenize is not None else False
        self.ratio: float | None = None  # server tokens per estimated token, once learned
        self._retry_at = 0.0
        self._exact: OrderedDict[bytes, int] = OrderedDict()

    @property
    def fallback(self) -> Estimator:
        """How a text the server has not counted is counted now."""
        return "calibrated" if self.ratio is not None else "heuristic"

    def known(self, text: str) -> int | None:
        """The server's count of `text`, if it has given one."""
        if not text:
            return 0
        key = _key(text)
        count = self._exact.get(key)
        if count is not None:
            self._exact.move_to_end(key)
        return count

    def estimate(self, text: str) -> int:
        """`estimate_tokens`, scaled by the calibration once there is one."""
        rough = estimate_tokens(text)
        if self.ratio is None:
            return rough
        return math.ceil(rough * self.ratio * MARGIN)

    def count(self, text: str) -> int:
        known = self.known(text)
        return known if known is not None else self.estimate(text)

    def tally(self) -> Tally:
        """A counter for one prompt that remembers whether every text was counted exactly."""
        return Tally(self)

    def learn(self, estimated: int, actual: int) -> None:
        """Calibrate from a server's count (`actual`) of what `estimate_tokens` put at
        `estimated`. The ratio rises at once and falls slowly, so one short count (a
        server that left cached tokens out) cannot make later prompts overflow."""
        if estimated < _LEARN_MIN or actual <= 0:
            return
        observed = actual / estimated
        low, high = RATIO_RANGE
        if not low <= observed <= high:
            return
        if self.ratio is None or observed > self.ratio:
            self.ratio = observed
        else:
            self.ratio += (observed - self.ratio) * 0.25

    async def prepare(self, texts: Iterable[str],
                      outbound: Callable[[str], str] | None = None) -> None:
        """Have the server count every text it has not counted yet, within the deadline.

        `outbound` turns a text into what may leave for this server (redacted for a host off
        this machine): that is what the server counts, and the count is remembered under
        the text as the prompt builder sees it. Never raises for tokenizer trouble; what is
        not counted in time is estimated.
        """
        tokenize = self._tokenize
        if tokenize is None or self.offered is False or self._clock() < self._retry_at:
            return
        wanted: dict[bytes, str] = {}
        for text in texts:
            if text and self.known(text) is None:
                wanted.setdefault(_key(text), text)
        if not wanted:
            return
        pending = list(wanted.values())
        counted: list[tuple[str, int]] = []

        async def one(text: str) -> None:
            if self.offered is False or self._clock() < self._retry_at:
                return  # another text just found the tokenizer gone or failing
            try:
                counted.append((text, await tokenize(outbound(text) if outbound else text)))
            except TokenizerUnavailable:
                self.offered = False
            except TokenizerFailed:
                self._retry_at = self._clock() + RETRY_AFTER

        try:
            async with asyncio.timeout(self.deadline):
                if self.offered is None:  # one text first: a server without it gets one request
                    await one(pending.pop(0))
                    if not counted:
                        return
                    self.offered = True
                gate = asyncio.Semaphore(CONCURRENCY)

                async def gated(text: str) -> None:
                    async with gate:
                        await one(text)

                async with asyncio.TaskGroup() as group:
                    for text in pending:
                        group.create_task(gated(text))
        except TimeoutError:
            self._retry_at = self._clock() + RETRY_AFTER
        finally:
            self._remember(counted)

    def _remember(self, counted: list[tuple[str, int]]) -> None:
        for text, count in counted:
            key = _key(text)
            self._exact[key] = count
            self._exact.move_to_end(key)
        while len(self._exact) > CACHE_SIZE:
            self._exact.popitem(last=False)
        if counted:  # one observation per batch: single short texts are noise
            self.learn(sum(estimate_tokens(t) for t, _ in counted), sum(c for _, c in counted))


class Tally:
    """One prompt's counting: `estimator` is `server` only if the server counted every text
    the prompt was sized with; otherwise the counter's fallback, honestly."""

    def __init__(self, counter: ModelCounter) -> None:
        self.counter = counter
        self.exact = True

    def count(self, text: str) -> int:
        known = self.counter.known(text)
        if known is None:
            self.exact = False
            return self.counter.estimate(text)
        return known

    @property
    def estimator(self) -> Estimator:
        return "server" if self.exact and self.counter.offered else self.counter.fallback


class TokenCounters:
    """One `ModelCounter` per (api, host, model), made on first use."""

    def __init__(self, deadline: float = TOKENIZE_DEADLINE) -> None:
        self.deadline = deadline
        self._counters: dict[tuple[str, str, str], ModelCounter] = {}

    def get(self, api: str, host: str, model: str, backend: ChatBackend) -> ModelCounter:
        key = (api, host, model)
        counter = self._counters.get(key)
        if counter is None:
            tokenize = _bound(backend, model, self.deadline) if isinstance(backend, Tokenizes) \
                else None
            counter = self._counters[key] = ModelCounter(tokenize, deadline=self.deadline)
        return counter


def _bound(backend: Tokenizes, model: str, timeout: float) -> Tokenize:
    async def tokenize(text: str) -> int:
        return await backend.tokenize(model, text, timeout)

    return tokenize
