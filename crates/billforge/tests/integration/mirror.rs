//! Mirror and webhook pipeline tests (issue #5/#6).
