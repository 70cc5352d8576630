"""The five panes of the TUI: overview, markets, clients, archive, replay."""
