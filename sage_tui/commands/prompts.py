"""Research mode in a plain terminal: the `Approver` behind `sage run --mode research`.

Plan: Enter continues, `r` rejects, anything else is a correction the coder hears.
Hunks, as `git add -p` users expect: `y` approve, `n` reject (a reason may follow),
`e` edit the new side in $EDITOR, `c` comment without deciding, `q` stop (the rest
is rejected), `?` help. Tool asks: `o` once, `s` for the session, `d` deny. Without
a terminal to ask (no stdin), every checkpoint is answered "no", with that reason.
"""

from __future__ import annotations

import asyncio
import sys

import click

from sage_tui.core.agent.approval import ApprovalRequest, Decision
from sage_tui.core.log.safetext import plain
from sage_tui.core.patch.model import Hunk
from sage_tui.core.patch.review import HunkReview

NO_ONE = "no one at the terminal"  # not a person's decision: nothing is learned from it

HUNK_HELP = """y - approve this hunk      n - reject it (you may give a reason)
e - edit its new side      c - comment (sent to the model), decide later
q - stop: reject the rest  ? - this help"""


def _colour(line: str) -> str:
    if line.startswith("+"):
        return click.style(line, fg="green")
    if line.startswith("-"):
        return click.style(line, fg="red")
    if line.startswith("@@"):
        return click.style(line, fg="cyan")
    return line


class TerminalApprover:
    """Asks on stderr/stdin; input runs in a worker thread so the event loop keeps going."""

    async def _ask(self, prompt: str) -> str | None:
        click.echo(prompt, nl=False, err=True)
        try:
            line = await asyncio.to_thread(sys.stdin.readline)
        except (OSError, ValueError):
            return None
        if line == "":  # end of input: nobody is there to answer
            return None
        return str(line).rstrip("\n")

    async def decide(self, request: ApprovalRequest) -> Decision:
        if request.checkpoint == "plan":
            return await self._plan(request)
        if request.checkpoint == "tool":
            return await self._tool(request)
        return await self._patch(request)

    async def _plan(self, request: ApprovalRequest) -> Decision:
        click.echo(click.style("\nPlan:", bold=True), err=True)
        for number, step in enumerate(request.steps, start=1):
            click.echo(f"  {number}. {plain(step)}", err=True)
        answer = await self._ask("Enter to continue, r to reject, or type a correction: ")
        if answer is None:
            return Decision("reject", "no one was at the terminal to approve the plan", by=NO_ONE)
        if answer.strip().lower() in ("r", "reject", "n", "no"):
            reason = await self._ask("Reason (Enter to skip): ")
            return Decision("reject", reason or None)
        if answer.strip():
            return Decision("respond", answer.strip())
        return Decision("approve")

    async def _tool(self, request: ApprovalRequest) -> Decision:
        click.echo(click.style(f"\n{request.tool} wants to run on: ", bold=True)
                   + plain(str(request.target)), err=True)
        while True:
            answer = await self._ask("Allow [o]nce, for the [s]ession, or [d]eny? ")
            if answer is None:
                return Decision("reject", "no one was at the terminal to allow it", by=NO_ONE)
            choice = answer.strip().lower()[:1]
            if choice == "o":
                return Decision("approve")
            if choice == "s":
                return Decision("approve_session")
            if choice == "d":
                reason = await self._ask("Tell it what to do instead (Enter to skip): ")
                return Decision("reject", reason or None)

    async def _patch(self, request: ApprovalRequest) -> Decision:
        assert request.patch is not None
        review = request.hunk_review()
        hunks = review.patch.hunks
        index = 0
        while index < len(hunks):
            hunk = review.patch.hunk(hunks[index].hunk_id)
            self._show(hunk, index + 1, len(hunks))
            answer = await self._ask(f"[{index + 1}/{len(hunks)}] Apply this hunk "
                                     "[y,n,e,c,q,?]? ")
            if answer is None:
                self._reject_rest(review, request, index, "no one was at the terminal")
                return Decision("reject", "no one was at the terminal to review the patch",
                                review=review, by=NO_ONE)
            choice = answer.strip().lower()[:1]
            if choice == "y":
                request.record(review, hunk, "approve", None)
                index += 1
            elif choice == "n":
                reason = await self._ask("Reason for the model (Enter to skip): ")
                request.record(review, hunk, "reject", reason or None)
                index += 1
            elif choice == "c":
                comment = await self._ask("Comment for the model: ")
                if comment:
                    request.record(review, hunk, "comment", comment)
            elif choice == "e":
                edited = click.edit("\n".join(hunk.new_lines) + "\n", extension=".txt")
                if edited is not None:
                    review.edit(hunk.hunk_id, edited)
                    if request.on_hunk is not None:
                        request.on_hunk(review.patch.hunk(hunk.hunk_id), "edit", None)
                    index += 1
            elif choice == "q":
                self._reject_rest(review, request, index, "review stopped")
                return Decision("reject", "review stopped", review=review)
            else:
                click.echo(HUNK_HELP, err=True)
        return Decision("approve", review=review)

    def _show(self, hunk: Hunk, number: int, total: int) -> None:
        click.echo(click.style(f"\n{plain(hunk.path)}", bold=True) + f"  (hunk {number} of {total}, "
                   f"+{hunk.added} -{hunk.removed})", err=True)
        click.echo(_colour(plain(hunk.header)), err=True)
        for line in hunk.lines:
            click.echo(_colour(plain(line)), err=True)

    def _reject_rest(self, review: HunkReview, request: ApprovalRequest, start: int,
                     why: str) -> None:
        for hunk in review.patch.hunks[start:]:
            if hunk.hunk_id not in review.decisions:
                request.record(review, hunk, "reject", why)
