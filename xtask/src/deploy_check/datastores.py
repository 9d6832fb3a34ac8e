# Where an overlay runs its data services on operators (deploy/k8s/components/operators), each
# service's connection settings must follow from the operators' resources: its DATABASE_URL names
# a CloudNativePG Cluster's read-write Service, a Database of that cluster owned by the URL's user,
# and a managed role whose password Secret is the one projected as DATABASE_PASSWORD; its AMQP_URL
# names a RabbitmqCluster, and the Secret projected as AMQP_PASSWORD imports a User with a
# Permission on the URL's vhost. Prints one line per mismatch; exit 1 if any.
import sys, yaml
from urllib.parse import urlsplit, unquote

docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
def named(kind):
    return {d["metadata"]["name"]: d for d in docs if d.get("kind") == kind}
clusters, databases, rmq = named("Cluster"), named("Database"), named("RabbitmqCluster")
users, perms, cms = named("User"), named("Permission"), named("ConfigMap")
if not clusters and not rmq:
    sys.exit(0)
errors, checked = [], 0
for dep in named("Deployment").values():
    name = dep["metadata"]["name"]
    for vol in dep["spec"]["template"]["spec"].get("volumes", []):
        sources = (vol.get("projected") or {}).get("sources", [])
        files = {}
        for src in sources:
            if "configMap" in src:
                cm = cms.get(src["configMap"]["name"])
                if cm is None:
                    errors.append(f"{name}: ConfigMap {src['configMap']['name']} is not rendered")
                    continue
                for it in src["configMap"].get("items", []):
                    if it["key"] not in cm.get("data", {}):
                        errors.append(f"{name}: ConfigMap {cm['metadata']['name']} has no key {it['key']}")
                    else:
                        files[it["path"]] = ("value", cm["data"][it["key"]])
            if "secret" in src:
                for it in src["secret"].get("items", []):
                    files[it["path"]] = ("secret", src["secret"]["name"])
        if "DATABASE_URL" not in files:
            continue
        checked += 1
        db = urlsplit(files["DATABASE_URL"][1])
        cluster = (db.hostname or "").removesuffix("-rw")
        user, dbname = unquote(db.username or ""), db.path.lstrip("/")
        pw = files.get("DATABASE_PASSWORD", (None, None))[1]
        c = clusters.get(cluster)
        if c is None or not (db.hostname or "").endswith("-rw"):
            errors.append(f"{name}: DATABASE_URL host {db.hostname} is no Cluster's -rw Service")
        else:
            roles = {r["name"]: r for r in c["spec"].get("managed", {}).get("roles", [])}
            role = roles.get(user)
            if role is None:
                errors.append(f"{name}: role {user} is not managed by Cluster {cluster}")
            elif role.get("passwordSecret", {}).get("name") != pw:
                errors.append(f"{name}: DATABASE_PASSWORD comes from {pw}, role {user}'s password from {role.get('passwordSecret')}")
            if not any(d["spec"]["name"] == dbname and d["spec"]["owner"] == user
                       and d["spec"]["cluster"]["name"] == cluster for d in databases.values()):
                errors.append(f"{name}: no Database {dbname} owned by {user} in Cluster {cluster}")
            hba = c["spec"].get("postgresql", {}).get("pg_hba", [])
            if not any(l.split()[1:3] == [dbname, user] for l in hba if len(l.split()) > 3):
                errors.append(f"{name}: pg_hba admits no {user} to {dbname}")
        if "AMQP_URL" in files:
            mq = urlsplit(files["AMQP_URL"][1])
            vhost = unquote(mq.path[1:]) if len(mq.path) > 1 else "/"
            if mq.hostname not in rmq:
                errors.append(f"{name}: AMQP_URL host {mq.hostname} is no RabbitmqCluster")
            secret = files.get("AMQP_PASSWORD", (None, None))[1]
            user_cr = [u for u in users.values()
                       if u["spec"].get("importCredentialsSecret", {}).get("name") == secret
                       and u["spec"]["rabbitmqClusterReference"].get("name") == mq.hostname]
            if not user_cr:
                errors.append(f"{name}: no User of {mq.hostname} imports {secret}")
            elif not any(p["spec"].get("userReference", {}).get("name") == user_cr[0]["metadata"]["name"]
                         and p["spec"]["vhost"] == vhost for p in perms.values()):
                errors.append(f"{name}: User {user_cr[0]['metadata']['name']} has no Permission on vhost {vhost}")
for e in errors:
    print(e)
if checked == 0:
    print("operators' resources are rendered but no Deployment reads its DATABASE_URL from them")
    sys.exit(1)
sys.exit(1 if errors else 0)
