"""Open the vault and the agent store of a data dir: SQLite there, or PostgreSQL when
``MASKER_DATABASE_URL`` is set (``masker.db``). The one place that picks a backend."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from masker.agents import AgentStore, SqliteAgentStore
from masker.agents_pg import PgAgentStore
from masker.db import database_url
from masker.tokens.keys import Keyring
from masker.tokens.vault import TokenVault, Vault, vault_path
from masker.tokens.vault_pg import PgVault


def open_vault(data_dir: Path, env: Mapping[str, str], keyring: Keyring) -> TokenVault:
    url = database_url(env)
    if url is None:
        return Vault(vault_path(data_dir), keyring)
    return PgVault(url, keyring)


def open_agent_store(data_dir: Path, env: Mapping[str, str]) -> AgentStore:
    url = database_url(env)
    if url is None:
        return SqliteAgentStore(vault_path(data_dir))
    return PgAgentStore(url)
