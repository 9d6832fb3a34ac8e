//! Method policy, read from the `stride.options.v1.policy` option in the descriptor set, so the
//! gateway and every service enforce exactly what the proto declares.

use std::collections::HashMap;

use prost_reflect::DescriptorPool;
use stride_proto::stride::options::v1::{Access, MethodPolicy};

/// Policy of every method of every `stride.*` service, keyed by gRPC path
/// (`/stride.auth.v1.AuthService/Login`).
#[derive(Clone, Debug)]
pub struct Policies {
    methods: HashMap<String, MethodPolicy>,
    services: Vec<String>,
}

/// Whether a call needs a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// Not a Stride method (health, reflection): the server's own business.
    Infrastructure,
    Public,
    Authenticated,
}

impl Policies {
    /// Loads the policies compiled into `stride-proto`.
    pub fn load() -> anyhow::Result<Self> {
        Self::from_descriptor_set(stride_proto::FILE_DESCRIPTOR_SET)
    }

    pub fn from_descriptor_set(bytes: &[u8]) -> anyhow::Result<Self> {
        let pool = DescriptorPool::decode(bytes)?;
        let ext = pool
            .get_extension_by_name("stride.options.v1.policy")
            .ok_or_else(|| anyhow::anyhow!("descriptor set lacks stride.options.v1.policy"))?;
        let mut methods = HashMap::new();
        let mut services = Vec::new();
        for svc in pool
            .services()
            .filter(|s| s.full_name().starts_with("stride."))
        {
            services.push(svc.full_name().to_owned());
            for m in svc.methods() {
                let opts = m.options();
                let policy = if opts.has_extension(&ext) {
                    match opts.get_extension(&ext).as_message() {
                        Some(dm) => dm.transcode_to::<MethodPolicy>()?,
                        None => MethodPolicy::default(),
                    }
                } else {
                    MethodPolicy::default()
                };
                methods.insert(format!("/{}/{}", svc.full_name(), m.name()), policy);
            }
        }
        Ok(Self { methods, services })
    }

    pub fn get(&self, path: &str) -> Option<&MethodPolicy> {
        self.methods.get(path)
    }

    /// What a call to `path` needs. Unknown methods of a Stride service need a token (secure by
    /// default); unspecified access means authenticated.
    pub fn requirement(&self, path: &str) -> Requirement {
        match self.methods.get(path) {
            Some(p) if p.access() == Access::Public => Requirement::Public,
            Some(_) => Requirement::Authenticated,
            None if path.starts_with("/stride.") => Requirement::Authenticated,
            None => Requirement::Infrastructure,
        }
    }

    /// True for methods only Stride's own services may call (`ACCESS_SERVICE`): the gateway
    /// refuses them; a service still requires a valid token, as for an authenticated method.
    pub fn service_only(&self, path: &str) -> bool {
        self.methods
            .get(path)
            .is_some_and(|p| p.access() == Access::Service)
    }

    /// Fully-qualified names of the Stride services in the descriptor set.
    pub fn services(&self) -> &[String] {
        &self.services
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_policies_from_proto_options() {
        let p = Policies::load().unwrap();
        assert_eq!(
            p.requirement("/stride.auth.v1.AuthService/Login"),
            Requirement::Public
        );
        assert_eq!(
            p.requirement("/stride.auth.v1.AuthService/GetJwks"),
            Requirement::Public
        );
        assert_eq!(
            p.requirement("/stride.profile.v1.ProfileService/GetMyProfile"),
            Requirement::Authenticated
        );
        assert_eq!(
            p.requirement("/stride.profile.v1.ProfileService/Nope"),
            Requirement::Authenticated
        );
        assert_eq!(
            p.requirement("/grpc.health.v1.Health/Check"),
            Requirement::Infrastructure
        );
        assert!(
            p.services()
                .iter()
                .any(|s| s == "stride.ai_coach.v1.AiCoachService")
        );
        let internal = "/stride.profile.v1.ReminderService/ScheduleReminder";
        assert!(p.service_only(internal));
        assert_eq!(p.requirement(internal), Requirement::Authenticated);
        assert!(!p.service_only("/stride.profile.v1.ProfileService/GetMyProfile"));
        let login = p.get("/stride.auth.v1.AuthService/Login").unwrap();
        assert_eq!(
            login.rate_limit(),
            stride_proto::stride::options::v1::RateLimitClass::Credentials
        );
    }
}
