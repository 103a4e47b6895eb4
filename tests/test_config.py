"""Settings from env and config.toml; models.yaml with errors that name file, key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sage_tui.config import default_models, load_models, load_settings, unknown_env
from sage_tui.core.errors import ConfigError
from sage_tui.core.llm.hosts import normalize_ollama_host
from sage_tui.core.log.events import ROLES
from sage_tui.paths import sage_paths


def write_config(home: Path, text: str, name: str = "config.toml") -> Path:
    path = home / "config" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_sage_home_puts_every_folder_under_one_root(tmp_path: Path) -> None:
    paths = sage_paths(env={"SAGE_HOME": str(tmp_path)})
    assert {p.parent for p in paths.all().values()} == {tmp_path}
    assert paths.sessions == tmp_path / "data" / "sessions"


def test_without_sage_home_platform_folders_are_used() -> None:
    paths = sage_paths(env={})
    assert all("sage-tui" in str(p) for p in paths.all().values())


def test_defaults(sage_home: Path) -> None:
    settings = load_settings()
    assert settings.mode == "research" and settings.tool_policy == "workspace_write"
    assert settings.ollama_host == "http://127.0.0.1:11434" and settings.config_file is None


def test_environment_wins_over_the_file(sage_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(sage_home, 'mode = "auto"\ntheme = "nord"\n[keys]\napprove_hunk = "Y"\n')
    monkeypatch.setenv("SAGE_MODE", "silent")
    monkeypatch.setenv("SAGE_MAX_PROMPT_CHARS_TOTAL", "32000")
    monkeypatch.setenv("OLLAMA_HOST", "gpu-box:11500")
    settings = load_settings()
    assert settings.mode == "silent" and settings.theme == "nord"
    assert settings.keys == {"approve_hunk": "Y"} and settings.config_file == path
    assert settings.max_prompt_chars_total == 32000
    assert settings.ollama_host == "http://gpu-box:11500"


@pytest.mark.parametrize("variable,value,words", [
    ("SAGE_MODE", "fast", "research, auto, silent"),
    ("SAGE_MAX_PROMPT_CHARS_TOTAL", "lots", "whole number"),
    ("SAGE_TOOL_POLICY", "/no/such/policy.yaml", "neither a preset"),
    ("SAGE_SESSION_LOG_MAX_MB", "0", "positive number"),
])
def test_bad_environment_values_name_the_variable(
        sage_home: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
        words: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert variable in str(caught.value) and words in str(caught.value)


def test_tool_policy_accepts_an_existing_file(sage_home: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    policy = sage_home / "policy.yaml"
    policy.write_text("rules: []\n")
    monkeypatch.setenv("SAGE_TOOL_POLICY", str(policy))
    assert load_settings().tool_policy == str(policy)


def test_config_file_errors(sage_home: Path) -> None:
    path = write_config(sage_home, "mode = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings()
    path.write_text('moed = "auto"\n')
    with pytest.raises(ConfigError, match="'moed' is not a setting; did you mean 'mode'"):
        load_settings()
    path.write_text('mode = "turbo"\n')
    with pytest.raises(ConfigError, match=r"config\.toml sets mode to 'turbo'"):
        load_settings()


def test_unknown_sage_variables_are_reported_with_a_suggestion() -> None:
    problems = unknown_env({"SAGE_MOED": "auto", "SAGE_HOME": "/x", "PATH": "/bin"})
    assert problems == ["SAGE_MOED is not a SAGE setting; did you mean 'SAGE_MODE'?"]


@pytest.mark.parametrize("value,expected", [
    (None, "http://127.0.0.1:11434"), ("", "http://127.0.0.1:11434"),
    ("1.2.3.4", "http://1.2.3.4:11434"), (":56789", "http://127.0.0.1:56789"),
    ("example.com:56789", "http://example.com:56789"), ("http://example.com", "http://example.com:80"),
    ("https://example.com", "https://example.com:443"), ("example.com/", "http://example.com:11434"),
    ("https://example.com:56789/path/", "https://example.com:56789/path"),
    ("[::1]:8080", "http://[::1]:8080"), ("0.0.0.0", "http://0.0.0.0:11434"),
])
def test_ollama_host_is_read_like_the_official_client(value: str | None, expected: str) -> None:
    assert normalize_ollama_host(value) == expected


def test_every_example_of_the_official_client_reads_the_same() -> None:
    import ast
    import doctest
    import importlib

    _client = importlib.import_module("ollama._client")  # the package re-exports a name `_client`

    examples = doctest.DocTestParser().get_examples(_client._parse_host.__doc__ or "")
    assert len(examples) > 20
    for example in examples:
        value = ast.literal_eval(example.source.strip().removeprefix("_parse_host"))
        assert normalize_ollama_host(value) == ast.literal_eval(example.want), example.source


@pytest.mark.parametrize("value,words", [
    ("ftp://box", "it uses ftp://, and model servers are reached over http:// or https://"),
    ("not a host", "'not a host' is not a host name or an IP address"),
    ("box:99999", "its port is not a number from 1 to 65535"),
    ("box:0", "its port is not a number from 1 to 65535"),
    ("box:abc", "its port is not a number from 1 to 65535"),
    ("admin:pw@box", "it holds a user name"),
])
def test_an_ollama_host_that_cannot_be_reached_as_written_is_one_sentence(
        sage_home: Path, monkeypatch: pytest.MonkeyPatch, value: str, words: str) -> None:
    monkeypatch.setenv("OLLAMA_HOST", value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    text = str(caught.value)
    assert text.startswith(f"OLLAMA_HOST is set to {value!r}, but {words}") and "\n" not in text


@pytest.mark.parametrize("value", ["::1", "[::1]", "fe80::2", "2001:db8::7"])
def test_a_bare_ipv6_address_is_a_host(sage_home: Path, monkeypatch: pytest.MonkeyPatch,
                                      value: str) -> None:
    monkeypatch.setenv("OLLAMA_HOST", value)
    assert load_settings().ollama_host.startswith("http://[")


def test_an_environment_error_reads_as_a_sentence(sage_home: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGE_MODE", "turbo")
    with pytest.raises(ConfigError, match=r"^SAGE_MODE is set to 'turbo', but it must be one of"):
        load_settings()


def test_built_in_models_cover_every_role() -> None:
    models = default_models()
    assert set(models.roles) == set(ROLES)
    assert all(spec.num_ctx >= 2048 for spec in models.roles.values())
    assert models.roles["router"].options["temperature"] == 0
    assert "test" in models.profiles and models.source is None


def test_user_models_override_per_role_and_keep_the_rest(sage_home: Path) -> None:
    path = write_config(sage_home, (
        "defaults:\n  options: {num_ctx: 4096}\n  host: http://127.0.0.1:11434\n"
        "roles:\n  coder:\n    model: deepseek-coder-v2:16b\n    host: gpu:11434\n"
        "    options: {num_ctx: 32768}\n    fallback: [qwen2.5-coder:7b]\n"
        "  router:\n    model: qwen2.5:0.5b\n"
    ), "models.yaml")
    models = load_models()
    assert models.source == path
    coder = models.roles["coder"]
    assert (coder.model, coder.num_ctx, coder.host, coder.fallback) == (
        "deepseek-coder-v2:16b", 32768, "http://gpu:11434", ("qwen2.5-coder:7b",))
    router = models.roles["router"]
    assert (router.num_ctx, router.host) == (4096, "http://127.0.0.1:11434")
    assert models.roles["planner"] == default_models().roles["planner"]


@pytest.mark.parametrize("text,message", [
    ("roles:\n  coder:\n    model: x\n    options:\n      num_ctx: big\n",
     r"roles\.coder\.options\.num_ctx must be a whole number, got 'big' \(line 5\)"),
    ("roles:\n  codr:\n    model: x\n",
     r"roles\.codr is not a role; did you mean 'coder'\? .* \(line 2\)"),
    ("roles:\n  coder:\n    options: {num_ctx: 4096}\n",
     r"roles\.coder needs a 'model' .* \(line 2\)"),
    ("roles:\n  coder:\n    model: x\n    options: {num_cxt: 4096}\n",
     r"roles\.coder\.options\.num_cxt is not an Ollama option; did you mean 'num_ctx'"),
    ("roles:\n  coder:\n    model: x\n    temprature: 1\n",
     r"roles\.coder\.temprature is not a known key; .*expected one of model, options"),
    ("roles:\n  coder: [a, b\n", r"is not valid YAML at line 3"),
    ("roles:\n  coder: !!python/name:os.system x\n", r"is not valid YAML at line 2"),
    ("roles:\n  coder: !!int abc\n", r"is not valid YAML: invalid literal"),
    ("roles:\n  coder:\n    model: x\n    options: {temperature: 5}\n",
     r"temperature must be between 0 and 2"),
    ("- just\n- a list\n", r"must be a mapping"),
    ("roles:\n  coder:\n    model: ''\n", r"roles\.coder\.model must be a non-empty text"),
    ("roles:\n  coder:\n    model: x\n    host: ftp://box\n",
     r"roles\.coder\.host is not a server address: it uses ftp://.* \(line 4\)"),
    ("roles:\n  coder:\n    model: x\n    api: openai\n    host: gpu box:8000\n",
     r"roles\.coder\.host is not a server address: 'gpu box' is not a host name"),
])
def test_models_yaml_errors_name_file_key_and_line(sage_home: Path, text: str,
                                                   message: str) -> None:
    path = write_config(sage_home, text, "models.yaml")
    with pytest.raises(ConfigError, match=message) as caught:
        load_models()
    assert str(path) in str(caught.value)


THREE_MISTAKES = (  # a user's models.yaml, profiles first: file order is not check order
    "profiles:\n"
    "  gpu:\n"
    "    model: qwen2.5-coder:32b\n"
    "    host: gpu box:11434\n"
    "roles:\n"
    "  coder:\n"
    "    model: qwen2.5-coder:7b\n"
    "    optoins: {num_ctx: 16384}\n"
    "  planner:\n"
    "    model: qwen2.5-coder:7b\n"
    "    options:\n"
    "      num_ctx: big\n"
)


def test_three_models_yaml_mistakes_in_different_places_are_named_together_in_file_order(
        sage_home: Path) -> None:
    from sage_tui.configvalues import ConfigProblems

    path = write_config(sage_home, THREE_MISTAKES, "models.yaml")
    with pytest.raises(ConfigProblems) as caught:
        load_models()
    assert caught.value.problems == [
        f"{path}: profiles.gpu.host is not a server address: 'gpu box' is not a host name or "
        "an IP address (line 4).",
        f"{path}: roles.coder.optoins is not a known key; did you mean 'options'? expected one "
        "of model, options, fallback, host, edit_format, api, api_key_env (line 8).",
        f"{path}: roles.planner.options.num_ctx must be a whole number, got 'big' (line 12).",
    ]
    assert str(caught.value).startswith("the configuration has 3 problems; fix each:\n  - ")


def test_models_yaml_problems_within_one_role_are_all_named_but_not_their_consequences(
        sage_home: Path) -> None:
    """A missing model and an unknown api are named with the role's other mistakes; the
    host, which the api decides how to read, is not judged, and the role is not 'lacking'."""
    from sage_tui.config import _parse_models
    from sage_tui.configvalues import ConfigProblems

    with pytest.raises(ConfigProblems) as caught:
        _parse_models("roles:\n  coder:\n    api: grpc\n    host: ftp://box\n"
                      "    options: {num_cxt: 1, temperature: 9}\n", "models.yaml",
                      default_models())
    assert [p.split(" (line")[0] for p in caught.value.problems] == [
        "models.yaml: roles.coder needs a 'model' (an Ollama tag such as 'qwen2.5-coder:7b')",
        "models.yaml: roles.coder.api must be ollama or openai (an OpenAI-compatible server "
        "such as llama.cpp's, vLLM or LM Studio), got 'grpc'",
        "models.yaml: roles.coder.options.num_cxt is not an Ollama option; did you mean "
        "'num_ctx'? see `ollama show --parameters`",
        "models.yaml: roles.coder.options.temperature must be between 0 and 2",
    ]


def test_explicit_models_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_models(tmp_path / "nope.yaml")


def test_a_models_yaml_that_is_a_list_says_the_file_must_be_a_mapping(sage_home: Path) -> None:
    path = write_config(sage_home, "- coder\n- planner\n", "models.yaml")
    with pytest.raises(ConfigError) as caught:
        load_models()
    assert str(caught.value) == (f"{path}: the file must be a mapping of keys to values, got "
                                 "['coder', 'planner'].")
