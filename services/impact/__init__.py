"""The impact service: DORA metrics of teams from their CI/CD events, beside their participation."""
