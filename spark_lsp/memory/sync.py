"""`spark memory sync`: this machine's learned experience, to the admin's inbox folder.

What is shared is a *contribution*: a memory file signed with this user's own key (created on
first use) holding the outcome of every local trace (card code, outcome, day, pseudonymous
user, library versions — no code, no file names) and the learned cards of the local knowledge
base (redacted). The admin's `spark memory merge INBOX` folds contributions into the team file;
contributed cards stay candidates until an admin signs them. Nothing else leaves the machine.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from spark_lsp.memory import keys
from spark_lsp.memory.format import SUFFIX, write_memory
from spark_lsp.memory.model import Memory, utc_stamp
from spark_lsp.memory.store import LocalSources, snapshot

log = logging.getLogger(__name__)


@dataclass
class SyncPlan:
    memory: Memory
    inbox: Path
    target: Path
    signer: str
    created_key: bool = False
    notes: list[str] = field(default_factory=list)
    written: bool = False

    def describe(self) -> str:
        """What will be (or was) shared, in plain words: the user sees it before it leaves."""
        m = self.memory
        by_code = Counter((o.code, o.outcome) for o in m.outcomes.values())
        lines = [f"Spark will share with the team ({self.target}):",
                 (f"  {len(m.outcomes)} outcome(s) of suggestions: card code, outcome, day, "
                 "pseudonymous user, library versions; no code and no file names")]
        codes = sorted({code for code, _ in by_code})
        for code in codes:
            counts = ", ".join(f"{by_code[(code, o)]} {o}" for o in
                               ("shown", "accepted", "rejected", "corrected") if by_code[(code, o)])
            lines.append(f"    {code}: {counts}")
        lines.append(f"  {len(m.cards)} learned card(s) (secrets redacted)")
        lines += [f"    {c.code}: {c.title}" for c in sorted(m.cards.values(), key=lambda c: c.code)]
        if m.snippets:
            lines.append("  redacted code windows with each outcome (--snippets)")
        lines.append(f"  signed with your key {keys.key_id(self.signer)}")
        return "\n".join(lines)


def default_inbox(memory_path: str | None, inbox: str | None) -> Path | None:
    """The configured inbox, else `inbox/` beside the team memory file."""
    if inbox:
        return Path(inbox).expanduser()
    if memory_path:
        return Path(memory_path).expanduser().parent / "inbox"
    return None


def plan_sync(home: Path, inbox: Path, *, snippets: bool = False) -> SyncPlan:
    """Build the contribution (creating this user's key if there is none yet)."""
    created = False
    try:
        key = keys.load_private_key(home)
    except keys.KeyProblem:
        if keys.private_key_path(home).exists():
            raise
        keys.generate_key(home)
        key = keys.load_private_key(home)
        created = True
    now = utc_stamp()
    memory, notes = snapshot(home, key, LocalSources(snippets=snippets), kind="contribution",
                             now=now)
    user = keys.key_id(keys.public_text(key))
    target = inbox / f"{user}-{now.replace(':', '').replace('-', '')}{SUFFIX}"
    return SyncPlan(memory, inbox, target, keys.public_text(key), created, notes)


def write_sync(plan: SyncPlan, home: Path) -> Path:
    """Write the contribution into the inbox (atomically: the admin never sees half a file)."""
    if not plan.inbox.is_dir():
        raise FileNotFoundError(f"the inbox folder {plan.inbox} does not exist (set "
                                "[tool.spark.memory] inbox, or create it)")
    write_memory(plan.target, plan.memory, keys.load_private_key(home))
    plan.written = True
    return plan.target
