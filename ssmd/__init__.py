"""ssmd: capture, stream and archive Kalshi market data.

The headless core. It never imports Textual (the TUI lives in the top-level ``tui``
package and sees the core only through its read-side APIs: status and catalog).
"""

__version__ = "0.1.0"
