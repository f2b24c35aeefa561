//! billing (placeholder: see ARCHITECTURE.md)
