//! mailer (placeholder: see ARCHITECTURE.md)
