// sqlx::migrate!() embeds migrations/ at compile time but cannot tell cargo about files added
// later: without this, a new migration is silently missing from an incremental build.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
