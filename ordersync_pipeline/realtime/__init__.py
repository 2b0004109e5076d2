"""The real-time path: orders taken in within seconds of being placed (docs/design.md, "Real time").

A notification receiver (Refurbed's Instant Order Notifications) and a watcher that polls Back
Market every few seconds write orders through the syncs' own code and event keys, then apply the
stock and push it in the same process. The scheduled syncs and stock runs stay as the backstop.
"""
