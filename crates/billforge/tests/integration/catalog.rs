//! Catalog: plans, prices, features through the emulator.
