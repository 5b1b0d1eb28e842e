"""Events: communities, members, sessions, attendance, feedback, action items; inbound gateway."""
