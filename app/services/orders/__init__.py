"""Orders after the storefront's "Place order": placement, cancellation, reads,
administration (tags, customer priority) and payments (the gateway journal, renewals)."""
