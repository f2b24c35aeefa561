//! platform (placeholder: see ARCHITECTURE.md)
