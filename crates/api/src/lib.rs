//! api (placeholder: see ARCHITECTURE.md)
