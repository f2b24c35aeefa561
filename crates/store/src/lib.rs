//! store (placeholder: see ARCHITECTURE.md)
