"""`python -m sage_tui` runs the `sage` command."""

from __future__ import annotations

from sage_tui.launcher import main

if __name__ == "__main__":
    main()
