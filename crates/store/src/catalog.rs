//! Catalog queries (plans, prices, features), always tenant-scoped.
