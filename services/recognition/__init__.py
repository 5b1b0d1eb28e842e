"""Recognition: kudos and their policy, the contribution ledger, profiles, badges, health."""
