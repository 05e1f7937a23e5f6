"""Routers of the dashboard; thin: parse, call one service, render."""
