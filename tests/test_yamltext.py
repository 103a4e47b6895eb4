"""One YAML library, in safe mode (issue 15): ruamel.yaml reads every YAML file, PyYAML none."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sage_tui.core.errors import ConfigError
from sage_tui.core.llm.scripted import Scenario
from sage_tui.core.tools.policy import load_policy
from sage_tui.core.yamltext import YAMLSyntaxError, load_with_lines, safe_load

ROOT = Path(__file__).resolve().parent.parent


def test_plain_data_and_the_line_of_every_key() -> None:
    data, lines = load_with_lines("a:\n  b: 1\n  c: [x, y]\nd: {e: true}\n")
    assert data == {"a": {"b": 1, "c": ["x", "y"]}, "d": {"e": True}}
    assert lines == {("a",): 1, ("a", "b"): 2, ("a", "c"): 3, ("d",): 4, ("d", "e"): 4}
    assert safe_load("") is None


@pytest.mark.parametrize("text", [
    "x: !!python/name:os.system ''\n",
    "x: !!python/object/apply:os.system ['touch pwned']\n",
    "x: !!python/object/new:subprocess.Popen [['touch', 'pwned']]\n",
])
def test_python_tags_are_refused_never_run(tmp_path: Path, text: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(YAMLSyntaxError, match="could not determine a constructor") as caught:
        safe_load(text)
    assert (caught.value.line, caught.value.column) == (1, 4)
    assert list(tmp_path.iterdir()) == []


def test_a_syntax_error_is_one_line_with_its_position() -> None:
    with pytest.raises(YAMLSyntaxError) as caught:
        safe_load("rules:\n  - {tool: x\n")
    assert str(caught.value) == "expected ',' or '}', but got '<stream end>' at line 3, column 1"
    assert "\n" not in caught.value.problem


def test_a_bad_scalar_has_no_position_but_one_line() -> None:
    with pytest.raises(YAMLSyntaxError, match=r"^invalid literal for int\(\)") as caught:
        safe_load("n: !!int abc\n")
    assert caught.value.where == ""


def test_a_duplicate_key_is_a_mistake_not_a_silent_override() -> None:
    with pytest.raises(YAMLSyntaxError, match="duplicate key") as caught:
        safe_load("a: 1\nb: 2\na: 3\n")
    assert caught.value.line == 3


def test_the_callers_name_the_file_and_position(tmp_path: Path) -> None:
    broken = tmp_path / "policy.yaml"
    broken.write_text("rules: [\n")
    with pytest.raises(ConfigError) as caught:
        load_policy(str(broken))
    assert str(caught.value) == (f"SAGE_TOOL_POLICY: {broken} is not valid YAML at line 2, column 1: "
                                 "expected the node content, but found '<stream end>'.")
    scenario = tmp_path / "s.yaml"
    scenario.write_text("models: !!python/name:os.system x\n")
    with pytest.raises(ConfigError, match=r"s\.yaml is not valid YAML or JSON at line 1, column 9"):
        Scenario.load(scenario)


def test_every_yaml_reader_works_with_pyyaml_gone(tmp_path: Path) -> None:
    # PyYAML may be installed by something else; here it cannot be imported at all.
    (tmp_path / "policy.yaml").write_text("rules:\n  - {tool: '*', verdict: allow}\n")
    (tmp_path / "models.yaml").write_text("roles:\n  coder:\n    model: qwen2.5-coder:3b\n")
    code = (
        "import sys\n"
        "sys.modules['yaml'] = None\n"
        "from pathlib import Path\n"
        "from sage_tui.config import load_models\n"
        "from sage_tui.core.tools.policy import load_policy\n"
        "from sage_tui.core.llm.scripted import Scenario\n"
        "from sage_tui.eval.specs import load_spec\n"
        "from sage_tui.setup.prep import catalogue\n"
        "from sage_tui.setup.modelsyaml import suggest\n"
        "import sage_tui.cli, sage_tui.ui.app, sage_tui.factory, sage_tui.setup.doctor\n"
        f"home = Path({str(tmp_path)!r})\n"
        "assert load_models(home / 'models.yaml').roles['coder'].model == 'qwen2.5-coder:3b'\n"
        "assert load_policy(str(home / 'policy.yaml')).rules\n"
        f"Scenario.load({str(ROOT / 'sage_tui' / 'demo' / 'scenario.yaml')!r})\n"
        f"load_spec(Path({str(ROOT / 'sage_tui' / 'eval' / 'goldens' / 'qa.yaml')!r}))\n"
        "assert catalogue()\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "SAGE_HOME": str(tmp_path),
                                            "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
