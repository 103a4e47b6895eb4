"""Role → model routing (DESIGN.md §4).

`SAGE_FORCE_LOCAL_MODEL` puts one tag on every role (reason `force`);
`SAGE_MODEL_PROFILE` puts a `models.yaml` profile on every role (reason `profile`);
otherwise each role's configured model (reason `config`), then its fallback chain
(reason `fallback`) when a model turns out not to be pulled. Each role may name its
own host. A model the person picks with `/model` comes first for the session (reason
`user`), ahead of all of these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sage_tui.core.errors import ConfigError
from sage_tui.core.llm.modelmap import ModelsConfig, RoleModel, default_edit_format
from sage_tui.core.log.events import ROLES, ModelReason

DEFAULT_NUM_CTX = 8192


@dataclass(frozen=True)
class ModelChoice:
    """A model picked for one call, and why."""

    role: str
    model: str
    host: str
    options: Mapping[str, Any]
    reason: ModelReason
    edit_format: str = "search_replace"  # how the coder is told to write changes
    api: str = "ollama"  # or "openai"
    api_key_env: str | None = None

    @property
    def num_ctx(self) -> int:
        return int(self.options["num_ctx"])


class ModelRouter:
    """Decides which model serves a role; knows nothing of availability itself."""

    def __init__(self, models: ModelsConfig, default_host: str, *, force: str | None = None,
                 profile: str | None = None) -> None:
        """Route roles to `models` on `default_host` (a role may name its own host).

        Args:
            force: One model tag for every role (`SAGE_FORCE_LOCAL_MODEL`).
            profile: A profile of `models` for every role (`SAGE_MODEL_PROFILE`).

        Raises:
            ConfigError: `profile` is not in `models`.
        """
        self.models = models
        self.default_host = default_host
        self.force = force
        self.profile: RoleModel | None = None
        if profile and not self.force:
            chosen = models.profiles.get(profile)
            if chosen is None:
                known = ", ".join(sorted(models.profiles)) or "none"
                raise ConfigError(
                    f"SAGE_MODEL_PROFILE={profile} is not a profile in models.yaml "
                    f"(profiles: {known}); add it there or unset the variable."
                )
            self.profile = chosen
        self.chosen: dict[str, str] = {}  # role → tag the person picked with /model

    def choose(self, role: str, model: str) -> None:
        """Serve `role` with `model` for the rest of the session (reason `user`); the
        configured chain stays behind it as the fallback."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self.chosen[role] = model

    def _choice(self, role: str, spec: RoleModel, model: str, reason: ModelReason) -> ModelChoice:
        merged = dict(spec.options)
        merged.setdefault("num_ctx", DEFAULT_NUM_CTX)
        fmt = spec.edit_format if spec.edit_format and model == spec.model \
            else default_edit_format(model)
        return ModelChoice(role, model, spec.host or self.default_host, merged, reason, fmt,
                           spec.api, spec.api_key_env)

    def candidates(self, role: str) -> list[ModelChoice]:
        """Models to try for `role`, in order."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        spec = self.models.roles[role]
        if self.force:
            chain = [self._choice(role, spec, self.force, "force")]
        elif self.profile is not None:
            chain = [self._choice(role, self.profile, self.profile.model, "profile")]
        else:
            chain = [self._choice(role, spec, spec.model, "config"),
                     *(self._choice(role, spec, tag, "fallback") for tag in spec.fallback)]
        if role in self.chosen:
            picked = self._choice(role, spec, self.chosen[role], "user")
            chain = [picked, *(c for c in chain if c.model != picked.model)]
        return chain

    def primary(self, role: str) -> ModelChoice:
        """The first choice for a role (what the status bar shows before any call)."""
        return self.candidates(role)[0]
