"""The local stack without Docker: Kafka, a MongoDB-protocol server, Redis, sinks, the services."""
