"""preorder-oms: ready stock, pre-orders and backorders as three different commitments."""

__version__ = "0.1.0"
