"""The web composition root: API and server-rendered pages for every role."""
