//! web (placeholder: see ARCHITECTURE.md)
