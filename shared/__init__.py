"""What the CoP Platform services share: the event contract; Kafka, telemetry, settings set-up."""
