//! stripe-emulator (placeholder: see ARCHITECTURE.md)
