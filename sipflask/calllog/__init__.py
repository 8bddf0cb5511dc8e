"""What happened to calls: the log's queries, CSV, buyer health, postbacks."""
