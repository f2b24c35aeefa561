//! Tenant API routes and conventions (issue #9).
