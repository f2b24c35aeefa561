//! Catalog tables: plans, prices, features and what plans grant.
