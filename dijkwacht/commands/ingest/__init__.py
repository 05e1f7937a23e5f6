"""`dijkwacht ingest`: the command (`command`), the formats it reads and how `auto` tells them
apart (`formats`), and the readers that turn a file into events or dead letters (`readers`)."""
