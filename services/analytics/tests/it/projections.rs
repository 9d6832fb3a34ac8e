//! The projections through the API.
