"""Pure rules: no I/O, no ORM. Everything here is unit-tested on plain values."""
