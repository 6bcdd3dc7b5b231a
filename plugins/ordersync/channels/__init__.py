"""Marketplace adapters: one module per API, each turning API pages into model objects and model
actions (accept, confirm shipment) into API calls."""


def build_channel(entry):
    """The adapter of a non-Amazon entry, with its hook (Amazon is built in operators.channel)."""
    if entry.marketplace == "cdiscount":
        from ordersync.channel_hooks import OctopiaHook
        from ordersync.channels.cdiscount import CdiscountChannel

        return CdiscountChannel(OctopiaHook(entry.conn_id), entry.country, entry.page_size, entry.tracking_url)
    if entry.marketplace == "lengow":
        from ordersync.channel_hooks import LengowHook
        from ordersync.channels.lengow import LengowChannel

        return LengowChannel(LengowHook(entry.conn_id), entry.lengow_marketplace, entry.country, entry.page_size)
    raise ValueError(f"no channel for marketplace {entry.marketplace!r}")
