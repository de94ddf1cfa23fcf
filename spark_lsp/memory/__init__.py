"""Team memory: a signed, portable file of the team's cards, outcomes and suppressions.

- `model`: what a memory holds (signed card versions, outcomes, suppressions, tombstones,
  conflicts); `format`: the file (a zip with a manifest, JSON Lines members and an ed25519
  signature) and every check made on reading one; `safeload`: strict JSON, hardened YAML.
- `keys`: signing keys and the trusted admin keys of the team configuration.
- `merge`: deterministic, idempotent, commutative merging of memories.
- `rulecheck`: a time limit per rule for cards that come from a memory file; `verify`: a file
  on disk to cards an analyzer may run, or one clear refusal.
- `privacy`: secrets redaction, applied before anything is stored in a trace or exported.
- `store`: the memory and the local knowledge base (import, snapshots of local experience);
  `admin`: export and merge into the team file; `sync`: contributions to the admin's inbox;
  `report`: stats and diff.
- `watch`: following the team's file and handing over each new verified version.
- `rollback`: the newest version of each team memory this machine accepted; an older file put
  back in its place is refused.

Nothing here imports from `server/`. This module imports nothing: `kb.traces` imports
`memory.privacy`, and the rest of `memory` imports `kb`.
"""
