"""Every action of the workbench, in one registry (as harlequin keeps `HARLEQUIN_ACTIONS`).

One row per action: its id (what `[keys]` in config.toml remaps), the screen or
widget that owns it, the Textual action it runs, what it does, and its default
key. The registry feeds:

- the bindings of each screen and widget (`bindings(owner)`),
- the help screen (every key that works, where, with its id),
- the command palette of the *active* screen (`palette(owners)`),
- every key hint on screen (`Keys.hint`, `Keys.key`), so a remap shows everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widget import Widget

from sage_tui.configvalues import UiNames


@dataclass(frozen=True)
class Action:
    """One thing a person can do, and the key that does it by default."""

    id: str
    owner: str
    action: str
    description: str
    key: str
    tooltip: str = ""
    show: bool = True  # in the footer
    palette: bool = True  # in the command palette
    priority: bool = False


# Owners, in the order the help screen lists them, with their section titles.
OWNERS: dict[str, str] = {
    "app": "Everywhere",
    "workbench": "Workbench",
    "prompt": "Message input",
    "events": "Event stream",
    "conversation": "Conversation",
    "review": "Diff reviewer",
    "plan": "Plan checkpoint",
    "tool": "Tool checkpoint",
    "edit": "Hunk editor",
    "commit": "Commit message",
    "comment": "Comment",
    "confirm": "Question",
    "detail": "Event details",
    "picker": "Session and model pickers",
    "help": "Help",
}

ACTIONS: tuple[Action, ...] = (
    Action("app.help", "app", "help", "Help", "question_mark,f1", "Show every key"),
    Action("app.stop", "app", "stop", "Stop", "escape", "Stop the running turn"),
    Action("app.stop_c", "app", "interrupt", "Copy or stop", "ctrl+c",
           "Copy the selected text; with none, stop the running turn", show=False,
           palette=False, priority=True),
    Action("app.quit", "app", "quit", "Quit", "ctrl+q", "Leave SAGE", priority=True,
           palette=False),  # the palette's own "Quit" entry runs it
    Action("app.mode", "workbench", "app.cycle_mode", "Mode", "shift+tab",
           "Cycle research → auto → silent"),
    Action("app.review", "workbench", "review_patch", "Review patch", "ctrl+r",
           "Open the highlighted patch in the diff reviewer"),
    Action("workbench.filter", "workbench", "filter", "Filter events", "ctrl+f",
           "Filter the event stream"),  # `/` belongs to the prompt
    Action("workbench.events", "workbench", "focus_events", "Events", "f2",
           "Focus the event stream", priority=True),
    Action("workbench.patches", "workbench", "focus_patches", "Patches", "f3",
           "Focus the patch queue", priority=True),
    Action("workbench.prompt", "workbench", "focus_prompt", "Prompt", "ctrl+l",
           "Focus the message input", priority=True),
    Action("workbench.copy_answer", "workbench", "copy_answer", "Copy last answer", "f8",
           "Copy the last answer to the clipboard", show=False),
    Action("workbench.copy_code", "workbench", "copy_code", "Copy code block", "f9",
           "Copy the last answer's last code block to the clipboard", show=False),
    Action("workbench.conversation", "workbench", "focus_conversation", "Conversation", "f4",
           "Focus the conversation to scroll it (up/down, page up/down)", priority=True),
    Action("conversation.newest", "conversation", "newest", "Newest", "end",
           "Jump to the newest answer and follow new ones"),
    Action("prompt.newline", "prompt", "newline", "New line", "ctrl+j", "Insert a line break",
           show=False),
    Action("events.up", "events", "cursor(-1)", "Previous event", "up,k", show=False,
           palette=False),
    Action("events.down", "events", "cursor(1)", "Next event", "down,j", show=False,
           palette=False),
    Action("events.details", "events", "details", "Details", "enter",
           "Show the selected event's JSON"),
    Action("events.filter", "events", "filter", "Filter", "slash",
           "Filter the event stream (as / searches in less and lazygit)"),
    Action("events.follow", "events", "toggle_follow", "Pause/follow", "p",
           "Stop or resume following new events"),
    Action("events.home", "events", "cursor_home", "First event", "home", show=False,
           palette=False),
    Action("events.end", "events", "cursor_end", "Last event", "end", show=False, palette=False),
    Action("review.next", "review", "next_hunk", "Next hunk", "j", "Go to the next hunk", show=False),
    Action("review.previous", "review", "previous_hunk", "Previous hunk", "k",
           "Go to the previous hunk", show=False),
    Action("review.approve", "review", "approve", "Approve", "y", "Approve this hunk"),
    Action("review.reject", "review", "reject", "Reject", "n", "Reject this hunk"),
    Action("review.approve_file", "review", "approve_file", "Approve file", "a",
           "Approve the rest of this file", show=False),
    Action("review.edit", "review", "edit", "Edit", "e",
           "Edit this hunk's new side, then approve it"),
    Action("review.comment", "review", "comment", "Comment", "c",
           "Comment on this hunk (sent to the model)"),
    Action("review.split", "review", "split", "Split", "s", "Split this hunk into smaller hunks"),
    Action("review.undo", "review", "undo", "Undo", "u", "Undo the last decision"),
    Action("review.view", "review", "toggle_view", "Side/unified", "v",
           "Toggle side-by-side and unified"),
    Action("review.files", "review", "toggle_files", "Files", "f", "Show or hide the file list", show=False),
    Action("review.apply", "review", "apply", "Apply approved", "enter",
           "Apply the approved hunks"),  # never priority: it must not overtake y/n typed before
    Action("review.discard", "review", "discard", "Discard", "d",
           "Discard the patch: nothing from it is applied", show=False),
    Action("review.back", "review", "back", "Back", "escape",
           "Leave the reviewer; the patch waits in the queue with its decisions"),
    Action("plan.approve", "plan", "approve", "Approve", "a", "Approve the plan"),
    Action("plan.reject", "plan", "reject", "Reject", "r", "Reject the plan"),
    Action("plan.edit", "plan", "edit", "Edit", "e", "Edit the steps"),
    Action("plan.respond", "plan", "respond", "Tell it", "t", "Tell it what to do differently"),
    Action("plan.escape", "plan", "reject", "Reject", "escape", "Reject the plan", show=False,
           palette=False),
    Action("tool.once", "tool", "once", "Allow once", "o", "Allow this call"),
    Action("tool.session", "tool", "session", "Allow for session", "s",
           "Allow this call for the rest of the session"),
    Action("tool.deny", "tool", "deny", "Deny", "d", "Deny this call"),
    Action("tool.escape", "tool", "deny", "Deny", "escape", "Deny this call", show=False,
           palette=False),
    Action("edit.save", "edit", "save", "Keep edit", "ctrl+s",
           "Keep the edit and approve the hunk", priority=True),
    Action("edit.cancel", "edit", "cancel", "Cancel", "escape", "Drop the edit"),
    Action("comment.cancel", "comment", "cancel", "Cancel", "escape", "Drop the comment"),
    Action("commit.save", "commit", "save", "Commit", "ctrl+s",
           "Commit SAGE's changes with this message"),
    Action("commit.cancel", "commit", "cancel", "Not now", "escape",
           "Commit nothing (/commit later)"),
    Action("confirm.yes", "confirm", "yes", "Yes", "y", "Answer yes"),
    Action("confirm.no", "confirm", "no", "No", "n,escape", "Answer no (the safe answer)"),
    Action("detail.close", "detail", "close", "Close", "escape,enter,q", "Close the details"),
    Action("picker.cancel", "picker", "cancel", "Cancel", "escape",
           "Close the picker; nothing changes"),
    Action("help.close", "help", "close", "Close", "escape,q", "Close the help"),
)
BY_ID: dict[str, Action] = {action.id: action for action in ACTIONS}

KEY_NAMES = {"question_mark": "?", "slash": "/", "escape": "esc", "enter": "enter"}


def bindings(owner: str, only: Iterable[str] | None = None) -> list[BindingType]:
    """The bindings of one screen or widget (or just the ids in `only`), with ids so `[keys]`
    can remap them."""
    wanted = None if only is None else set(only)
    return [Binding(a.key, a.action, a.description, show=a.show, priority=a.priority, id=a.id,
                    tooltip=a.tooltip or a.description)
            for a in ACTIONS if a.owner == owner and (wanted is None or a.id in wanted)]


def owned(owners: Iterable[str]) -> Iterator[Action]:
    """The actions of `owners`, in registry order."""
    wanted = set(owners)
    return (a for a in ACTIONS if a.owner in wanted)


def display(keys: str) -> str:
    """How keys read on screen: `question_mark,f1` → `?/f1`."""
    return "/".join(KEY_NAMES.get(k.strip(), k.strip()) for k in keys.split(","))


class Keys:
    """The keys in force: the registry's defaults with the person's `[keys]` remaps."""

    def __init__(self, remaps: Mapping[str, str] | None = None) -> None:
        self.remaps = dict(remaps or {})

    def keys(self, action_id: str) -> str:
        """The key list of an action, as Textual takes it (`question_mark,f1`)."""
        return self.remaps.get(action_id) or BY_ID[action_id].key

    def key(self, action_id: str) -> str:
        """The first key of an action, as it reads on screen (`?`)."""
        return display(self.keys(action_id).split(",")[0])

    def hint(self, *items: tuple[str, str]) -> str:
        """"y approve · n reject" from (action id, words) pairs."""
        return " · ".join(f"{self.key(action_id)} {words}" for action_id, words in items)

    def format(self, template: str) -> str:
        """Replace each `{action.id}` in `template` with that action's key."""
        return re.sub(r"\{([a-z_]+\.[a-z_]+)\}",
                      lambda m: self.key(m.group(1)) if m.group(1) in BY_ID else m.group(0),
                      template)


def keys_of(app: object) -> Keys:
    """The keys in force in `app` (its `action_keys`), else the defaults."""
    keys = getattr(app, "action_keys", None)
    return keys if isinstance(keys, Keys) else Keys()


def palette(app: App[Any], screen: Screen[Any]) -> Iterator[SystemCommand]:
    """The command palette entries for what works on `screen`, and only that.

    A screen names the owners whose actions work on it (`ACTION_OWNERS`) and may
    route an owner to one of its widgets (`action_target`); the app's own actions
    (`app` owner) are offered when the app has them and allows them now.
    """
    owners: tuple[str, ...] = getattr(screen, "ACTION_OWNERS", ())
    target_of = getattr(screen, "action_target", None)
    for action in owned(("app", *owners)):
        if not action.palette:
            continue
        node: Widget | App[Any]
        if action.owner == "app" or action.action.startswith("app."):
            node, name = app, action.action.removeprefix("app.")
        else:
            node = target_of(action.owner) if target_of is not None else screen
            name = action.action
        method = name.split("(")[0]
        if not hasattr(node, f"action_{method}") or node.check_action(method, ()) is False:
            continue
        yield SystemCommand(action.description, action.tooltip or action.description,
                            _runner(node, name))


def _runner(node: Widget | App[Any], action: str) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await node.run_action(action)

    return run


def ui_names() -> UiNames:
    """The action ids `[keys]` may remap and the themes `theme` may name, for the settings
    checks (`load_settings(names=...)`)."""
    from textual.theme import BUILTIN_THEMES

    return UiNames(actions=frozenset(BY_ID), themes=frozenset(BUILTIN_THEMES))
