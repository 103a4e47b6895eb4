"""Hardware-aware model recommendations (`sage prep`).

The machine is read (RAM, NVIDIA VRAM through `nvidia-smi`, AMD through `rocm-smi`,
Apple unified memory, free disk, CPU) or loaded from a file. The memory a model needs
is its weights plus its KV cache at the role's `num_ctx`, plus runtime overhead. The
planner, coder and reviewer share one model (so Ollama never swaps between them), and it
must fit together with the small router/summarizer model, so a turn never evicts one.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from sage_tui.config import default_models
from sage_tui.core.errors import ConfigError
from sage_tui.core.yamltext import safe_load
from sage_tui.setup.servers import ServerReport

OVERHEAD_GB = 0.5  # runtime buffers per loaded model
OS_RESERVE_GB = 3.0  # what the system and the editor keep of RAM on a CPU-only machine
APPLE_GPU_SHARE = 0.70  # macOS lets the GPU wire about this much of unified memory
CONTEXTS = {role: spec.num_ctx for role, spec in default_models().roles.items()}
BIG_ROLES = ("planner", "coder", "reviewer")


@dataclass(frozen=True)
class Gpu:
    vendor: str  # nvidia, amd
    name: str
    vram_gb: float


@dataclass(frozen=True)
class Hardware:
    ram_gb: float
    cpu_cores: int
    disk_free_gb: float
    gpus: tuple[Gpu, ...] = ()
    apple_silicon: bool = False
    cpu_model: str = ""

    def budget(self) -> tuple[float, str]:
        """Memory models may use, and where it is."""
        if self.apple_silicon:
            return round(self.ram_gb * APPLE_GPU_SHARE, 1), \
                f"{self.ram_gb:g} GB unified memory ({APPLE_GPU_SHARE:.0%} usable by the GPU)"
        if self.gpus:
            best = max(self.gpus, key=lambda g: g.vram_gb)
            return best.vram_gb, f"{best.vram_gb:g} GB VRAM on {best.name}"
        return max(0.0, self.ram_gb - OS_RESERVE_GB), \
            f"{self.ram_gb:g} GB RAM, no GPU ({OS_RESERVE_GB:g} GB kept for the system)"


@dataclass(frozen=True)
class CatalogueModel:
    tag: str
    params_b: float
    quant: str
    size_gb: float
    kv_gb_per_1k: float
    roles: tuple[str, ...]
    quality: int

    def need_gb(self, num_ctx: int) -> float:
        return self.size_gb + self.kv_gb_per_1k * num_ctx / 1000 + OVERHEAD_GB


@dataclass
class Pick:
    role: str
    tag: str
    num_ctx: int
    size_gb: float
    need_gb: float
    why: str


@dataclass
class Plan:
    hardware: Hardware
    budget_gb: float
    where: str
    picks: list[Pick] = field(default_factory=list)  # Ollama roles only
    notes: list[str] = field(default_factory=list)
    servers: list[ServerReport] = field(default_factory=list)  # the OpenAI-compatible ones

    @property
    def tags(self) -> list[str]:
        return list(dict.fromkeys(p.tag for p in self.picks))

    def to_json(self) -> dict[str, Any]:
        return {"hardware": asdict(self.hardware), "budget_gb": self.budget_gb,
                "where": self.where, "picks": [asdict(p) for p in self.picks],
                "pull": [f"ollama pull {t}" for t in self.tags], "notes": self.notes,
                "servers": [s.to_json() for s in self.servers]}


def catalogue() -> list[CatalogueModel]:
    text = resources.files("sage_tui").joinpath("data/catalogue.yaml").read_text("utf-8")
    return [CatalogueModel(m["tag"], float(m["params_b"]), str(m["quant"]), float(m["size_gb"]),
                           float(m["kv_gb_per_1k"]), tuple(m["roles"]), int(m["quality"]))
            for m in safe_load(text)["models"]]


def recommend(hardware: Hardware, elsewhere: frozenset[str] = frozenset()) -> Plan:
    """Pick a model per role that fits the machine, and say why; roles `elsewhere` (served
    by an OpenAI-compatible server) get no pick, since nothing is pulled for them."""
    budget, where = hardware.budget()
    plan = Plan(hardware, budget, where)
    if set(CONTEXTS) <= elsewhere:
        return plan
    models = catalogue()
    small = sorted((m for m in models if "router" in m.roles), key=lambda m: -m.quality)
    big = sorted((m for m in models if "coder" in m.roles), key=lambda m: -m.quality)
    chosen = None
    for coder in big:
        if hardware.gpus == () and not hardware.apple_silicon and coder.params_b > 8:
            continue  # on a CPU, larger models answer too slowly to work with
        coder_need = coder.need_gb(CONTEXTS["coder"])
        for router in small:
            total = coder_need + router.need_gb(CONTEXTS["router"])
            if total <= budget:
                chosen = (coder, router, total)
                break
        if chosen:
            break
    if chosen is None:
        least = big[-1].need_gb(CONTEXTS["coder"]) + small[-1].need_gb(CONTEXTS["router"])
        raise ConfigError(f"No catalogued model fits {where}; SAGE needs at least about "
                          f"{least:.1f} GB for its models.")
    coder, router, total = chosen
    spare = budget - total
    kind = "unified memory" if hardware.apple_silicon else "VRAM" if hardware.gpus else "RAM"
    for role in BIG_ROLES:
        need = coder.need_gb(CONTEXTS[role])
        why = (f"fits in {budget:g} GB {kind} with {spare:.1f} GB to spare, beside the router"
               if role == "coder" else "the coder's model: one model, so Ollama never swaps")
        plan.picks.append(Pick(role, coder.tag, CONTEXTS[role], coder.size_gb, round(need, 1),
                               why))
    plan.picks.insert(0, Pick("router", router.tag, CONTEXTS["router"], router.size_gb,
                              round(router.need_gb(CONTEXTS["router"]), 1),
                              "small and quick: it only classifies messages into JSON"))
    summarizer = router
    for candidate in (m for m in models if "summarizer" in m.roles and m.quality > router.quality):
        extra = candidate.need_gb(CONTEXTS["summarizer"])
        if total + extra <= budget:
            summarizer = candidate
    left = budget - total - summarizer.need_gb(CONTEXTS["summarizer"])
    extra_note = ("shares the router's model: a larger one would not fit beside the coder"
                  if summarizer is router else
                  f"writes summaries and memory better; fits too ({left:.1f} GB left)")
    plan.picks.append(Pick("summarizer", summarizer.tag, CONTEXTS["summarizer"],
                           summarizer.size_gb,
                           round(summarizer.need_gb(CONTEXTS["summarizer"]), 1), extra_note))
    plan.picks = [pick for pick in plan.picks if pick.role not in elsewhere]
    disk = sum(m.size_gb for m in models if m.tag in plan.tags)
    if disk > hardware.disk_free_gb:
        plan.notes.append(f"The models take {disk:.1f} GB on disk but only "
                          f"{hardware.disk_free_gb:.1f} GB are free; free some space first.")
    if not hardware.gpus and not hardware.apple_silicon:
        plan.notes.append("No GPU: expect a few tokens per second; the coder is capped at 8B.")
    return plan


# -- reading the machine ------------------------------------------------------------------
def _run(args: list[str]) -> str:
    if shutil.which(args[0]) is None:
        return ""
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout if out.returncode == 0 else ""


def _nvidia() -> list[Gpu]:
    text = _run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"])
    gpus = []
    for row in text.strip().splitlines():
        name, _, mib = row.rpartition(",")
        if mib.strip().isdigit():
            gpus.append(Gpu("nvidia", name.strip(), round(int(mib) / 1024, 1)))
    return gpus


def _amd() -> list[Gpu]:
    text = _run(["rocm-smi", "--showmeminfo", "vram", "--json"])
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return []
    gpus = []
    for card, info in data.items():
        total = info.get("VRAM Total Memory (B)") if isinstance(info, dict) else None
        if total and str(total).isdigit():
            gpus.append(Gpu("amd", card, round(int(total) / 1024**3, 1)))
    return gpus


def probe() -> Hardware:
    """Read this machine."""
    pages = os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    ram = pages * os.sysconf("SC_PAGE_SIZE") / 1024**3 if pages else 0.0
    apple = platform.system() == "Darwin" and platform.machine() == "arm64"
    if platform.system() == "Darwin":
        memsize = _run(["sysctl", "-n", "hw.memsize"]).strip()
        ram = int(memsize) / 1024**3 if memsize.isdigit() else ram
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text(errors="replace"))
        model = found.group(1).strip() if found else ""
    models_dir = Path(os.environ.get("OLLAMA_MODELS", Path.home() / ".ollama"))
    while not models_dir.exists() and models_dir != models_dir.parent:
        models_dir = models_dir.parent
    disk = shutil.disk_usage(models_dir).free / 1024**3
    return Hardware(round(ram, 1), os.cpu_count() or 1, round(disk, 1),
                    tuple(_nvidia() + _amd()), apple, model)


def load_hardware(path: Path) -> Hardware:
    """A machine described in JSON (for tests, or to plan for another computer).

    Raises:
        ConfigError: naming the file and the field.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        gpus = tuple(Gpu(str(g.get("vendor", "nvidia")), str(g.get("name", "GPU")),
                         float(g["vram_gb"])) for g in data.get("gpus", []))
        return Hardware(float(data["ram_gb"]), int(data.get("cpu_cores", 4)),
                        float(data.get("disk_free_gb", 500)), gpus,
                        bool(data.get("apple_silicon", False)), str(data.get("cpu_model", "")))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read the hardware file {path} ({exc}).") from exc
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: a hardware file needs ram_gb, and gpus as a list of "
                          f"{{vram_gb, name, vendor}} ({exc!r} is missing or wrong).") from exc
