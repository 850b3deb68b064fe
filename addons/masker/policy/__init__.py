"""The YAML mask policy: model, loading/validation, diff, Safe Harbor coverage."""

from masker.policy.model import AuditSettings, EntityRule, Policy

__all__ = ["AuditSettings", "EntityRule", "Policy"]
