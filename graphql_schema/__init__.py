"""The GraphQL API: thin Strawberry types, inputs, queries, mutations and loaders per area."""
