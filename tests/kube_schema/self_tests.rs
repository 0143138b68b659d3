// Self-tests of the schema module: valid documents pass, misspelt fields and wrong types fail.
// The sample documents follow the shape of Kubespray's kubeadm-config.v1beta4.yaml.j2 and of
// kubeforge's roles/kubernetes/templates/kubeadm-config.yaml.j2, rendered by hand.

use super::metav1::{is_quantity, parse_go_duration};
use super::*;

const KUBESPRAY_SHAPED: &str = r#"apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
- token: "abcdef.0123456789abcdef"
  description: "kubespray kubeadm bootstrap token"
  ttl: "24h"
localAPIEndpoint:
  advertiseAddress: "10.0.0.11"
  bindPort: 6443
certificateKey: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
nodeRegistration:
  name: "cp1"
  taints:
  - effect: NoSchedule
    key: node-role.kubernetes.io/control-plane
  criSocket: unix:///var/run/containerd/containerd.sock
  imagePullPolicy: IfNotPresent
  imagePullSerial: true
skipPhases:
- addon/coredns
- addon/kube-proxy
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
clusterName: cluster.local
encryptionAlgorithm: RSA-2048
certificateValidityPeriod: 8760h
caCertificateValidityPeriod: 87600h
etcd:
  external:
      endpoints:
      - "https://10.0.0.11:2379"
      caFile: /etc/ssl/etcd/ssl/ca.pem
      certFile: /etc/ssl/etcd/ssl/node-cp1.pem
      keyFile: /etc/ssl/etcd/ssl/node-cp1-key.pem
dns:
  disabled: true
  imageRepository: registry.k8s.io/coredns
  imageTag: v1.14.2
networking:
  dnsDomain: cluster.local
  serviceSubnet: "10.233.0.0/18,fd85:ee78:d8a6:8607::1000/116"
  podSubnet: "10.233.64.0/18,fd85:ee78:d8a6:8607::1:0000/112"
kubernetesVersion: v1.36.4
controlPlaneEndpoint: "10.0.0.11:6443"
certificatesDir: /etc/kubernetes/ssl
imageRepository: registry.k8s.io
apiServer:
  extraArgs:
  - name: etcd-compaction-interval
    value: "5m0s"
  - name: bind-address
    value: "::"
  - name: allow-privileged
    value: "true"
  extraVolumes:
  - name: usr-share-ca-certificates
    hostPath: /usr/share/ca-certificates
    mountPath: /usr/share/ca-certificates
    readOnly: true
  certSANs:
  - "kubernetes"
  - "10.233.0.1"
  - "203.0.113.10"
  - "::1"
controllerManager:
  extraArgs:
  - name: node-cidr-mask-size-ipv4
    value: "24"
  - name: node-cidr-mask-size-ipv6
    value: "120"
scheduler:
  extraArgs:
  - name: bind-address
    value: "::"
  extraVolumes:
  - name: kubescheduler-config
    hostPath: /etc/kubernetes/kubescheduler-config.yaml
    mountPath: /etc/kubernetes/kubescheduler-config.yaml
    readOnly: true
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: UpgradeConfiguration
apply:
  kubernetesVersion: v1.36.4
  allowExperimentalUpgrades: true
  certificateRenewal: true
  etcdUpgrade: false
  forceUpgrade: true
  imagePullPolicy: IfNotPresent
  imagePullSerial: true
  skipPhases:
  - "addon/coredns"
node:
  certificateRenewal: true
  etcdUpgrade: false
  imagePullPolicy: IfNotPresent
  imagePullSerial: true
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
bindAddress: "0.0.0.0"
clientConnection:
  acceptContentTypes: 
  burst: 10
  contentType: application/vnd.kubernetes.protobuf
  kubeconfig: 
  qps: 5
clusterCIDR: "10.233.64.0/18"
configSyncPeriod: 15m0s
conntrack:
  maxPerCore: 32768
  min: 131072
  tcpCloseWaitTimeout: 1h0m0s
  tcpEstablishedTimeout: 24h0m0s
enableProfiling: false
healthzBindAddress: "0.0.0.0:10256"
hostnameOverride: "cp1"
iptables:
  masqueradeAll: false
  masqueradeBit: 14
  minSyncPeriod: 0s
  syncPeriod: 30s
ipvs:
  excludeCIDRs: []
  minSyncPeriod: 0s
  scheduler: rr
  syncPeriod: 30s
  strictARP: false
  tcpTimeout: 0s
  tcpFinTimeout: 0s
  udpTimeout: 0s
metricsBindAddress: "127.0.0.1:10249"
mode: ipvs
nodePortAddresses: []
oomScoreAdj: -999
portRange: 
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: true
clusterDNS:
- 169.254.25.10
clusterDomain: cluster.local
cgroupDriver: systemd
containerRuntimeEndpoint: unix:///var/run/containerd/containerd.sock
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: /etc/kubernetes/ssl/ca.crt
authorization:
  mode: Webhook
evictionHard:
  memory.available: 100Mi
  nodefs.available: "10%"
systemReserved:
  cpu: 100m
  memory: 512Mi
memorySwap:
  swapBehavior: LimitedSwap
shutdownGracePeriod: 60s
shutdownGracePeriodCriticalPods: 20s
featureGates:
  NodeSwap: true
tracing:
  endpoint: 0.0.0.0:4317
  samplingRatePerMillion: 100
logging:
  format: text
  flushFrequency: 5s
  verbosity: 2
reservedMemory:
- numaNode: 0
  limits:
    memory: 1Gi
"#;

/// kubeforge's current template (roles/kubernetes/templates/kubeadm-config.yaml.j2), rendered.
const KUBEFORGE_SHAPED: &str = r#"# Managed by kubeforge; derived from the inventory alone.
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: "10.0.0.11"
  bindPort: 6443
certificateKey: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
nodeRegistration:
  name: "cp1"
  criSocket: "unix:///run/containerd/containerd.sock"
  kubeletExtraArgs:
    - name: node-ip
      value: "10.0.0.11"
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: "v1.36.4"
clusterName: "cluster.local"
controlPlaneEndpoint: "10.0.0.11:6443"
networking:
  dnsDomain: "cluster.local"
  serviceSubnet: "10.233.0.0/18"
  podSubnet: "10.233.64.0/18"
etcd:
  local:
    dataDir: "/var/lib/etcd"
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: "ipvs"
clusterCIDR: "10.233.64.0/18"
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
"#;

fn expect_err(doc: &str, needles: &[&str]) -> String {
    let err = check_multi(doc).expect_err("document should have been rejected");
    for n in needles {
        assert!(err.contains(n), "error {err:?} does not mention {n:?}");
    }
    err
}

#[test]
fn valid_documents_pass() {
    let kinds = check_multi_kinds(KUBESPRAY_SHAPED).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        kinds,
        [
            "InitConfiguration",
            "ClusterConfiguration",
            "UpgradeConfiguration",
            "KubeProxyConfiguration",
            "KubeletConfiguration"
        ]
    );
    let kinds = check_multi_kinds(KUBEFORGE_SHAPED).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        kinds,
        [
            "InitConfiguration",
            "ClusterConfiguration",
            "KubeProxyConfiguration",
            "KubeletConfiguration"
        ]
    );
    // decoded values are reachable for assertions
    let docs = parse_multi(KUBESPRAY_SHAPED).unwrap();
    let KubeDocument::Cluster(c) = &docs[1] else {
        panic!("second document is not ClusterConfiguration")
    };
    let sans = c
        .apiServer
        .as_ref()
        .and_then(|a| a.certSANs.as_ref())
        .unwrap();
    assert!(sans.iter().any(|s| s == "203.0.113.10"));
    let KubeDocument::Init(i) = &docs[0] else {
        panic!()
    };
    assert_eq!(
        i.nodeRegistration
            .as_ref()
            .unwrap()
            .taints
            .as_ref()
            .unwrap()
            .len(),
        1
    );
    assert!(i.localAPIEndpoint.as_ref().unwrap().bindPort.unwrap() == 6443);
    let KubeDocument::KubeProxy(p) = &docs[3] else {
        panic!()
    };
    assert!(p.clientConnection.as_ref().unwrap().qps.unwrap() == 5.0);
    assert!(p.clientConnection.as_ref().unwrap().kubeconfig.is_none());
}

#[test]
fn misspelt_field_fails_with_its_path() {
    let doc = KUBESPRAY_SHAPED.replace("  certSANs:\n", "  certSans:\n");
    let err = expect_err(
        &doc,
        &["ClusterConfiguration", "certSans", "apiServer.certSans"],
    );
    assert!(err.starts_with("document 2 "), "{err}");
    // nested two levels down, in the kubelet document
    let doc = KUBESPRAY_SHAPED.replace(
        "  webhook:\n    enabled: true",
        "  webhook:\n    enable: true",
    );
    expect_err(
        &doc,
        &[
            "KubeletConfiguration",
            "enable",
            "authentication.webhook.enable",
        ],
    );
    // a v1beta3-only field (discovery.timeout moved to timeouts.discovery in v1beta4)
    let join = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ndiscovery:\n  bootstrapToken:\n    apiServerEndpoint: 10.0.0.11:6443\n    token: abcdef.0123456789abcdef\n    unsafeSkipCAVerification: true\n  timeout: 5m0s\n";
    let err = check_document(join).unwrap_err();
    assert!(
        err.contains("timeout") && err.contains("discovery.timeout"),
        "{err}"
    );
    assert!(check_document(&join.replace("  timeout: 5m0s\n", "")).is_ok());
}

#[test]
fn extra_args_must_be_a_list_of_name_value() {
    // v1beta3 wrote extraArgs as a map; v1beta4 wants [{name, value}]
    let doc = KUBEFORGE_SHAPED.replace(
        "etcd:\n  local:",
        "controllerManager:\n  extraArgs:\n    node-cidr-mask-size-ipv4: \"24\"\netcd:\n  local:",
    );
    expect_err(
        &doc,
        &["ClusterConfiguration", "controllerManager.extraArgs"],
    );
    // kubeletExtraArgs entry without its value
    let doc = KUBEFORGE_SHAPED.replace("      value: \"10.0.0.11\"\n", "");
    expect_err(&doc, &["InitConfiguration", "value"]);
}

#[test]
fn wrong_scalar_types_fail() {
    // string where an int32 is expected
    let doc = KUBEFORGE_SHAPED.replace("bindPort: 6443", "bindPort: \"6443\"");
    expect_err(&doc, &["InitConfiguration", "localAPIEndpoint.bindPort"]);
    // quoted boolean where Go has a bool, float where Go has an int32
    let doc = KUBESPRAY_SHAPED.replace(
        "  imagePullSerial: true\nskipPhases",
        "  imagePullSerial: \"true\"\nskipPhases",
    );
    expect_err(&doc, &["nodeRegistration.imagePullSerial"]);
    let doc = KUBESPRAY_SHAPED.replace("oomScoreAdj: -999", "oomScoreAdj: -999.5");
    expect_err(&doc, &["KubeProxyConfiguration", "oomScoreAdj"]);
    // unquoted number / boolean where Go has a string (sigs.k8s.io/yaml makes them JSON numbers)
    let doc = KUBESPRAY_SHAPED.replace("value: \"24\"", "value: 24");
    expect_err(
        &doc,
        &[
            "ClusterConfiguration",
            "controllerManager.extraArgs[0].value",
        ],
    );
    let doc = KUBESPRAY_SHAPED.replace("imageTag: v1.14.2", "imageTag: 1.10");
    expect_err(&doc, &["dns.imageTag"]);
    let doc = KUBESPRAY_SHAPED.replace("    value: \"true\"", "    value: true");
    expect_err(&doc, &["apiServer.extraArgs[2].value"]);
    // list where a string is expected
    let doc = KUBEFORGE_SHAPED.replace(
        "podSubnet: \"10.233.64.0/18\"",
        "podSubnet: [\"10.233.64.0/18\"]",
    );
    expect_err(&doc, &["networking.podSubnet"]);
    // duplicate key
    let doc = KUBEFORGE_SHAPED.replace(
        "cgroupDriver: systemd",
        "cgroupDriver: systemd\ncgroupDriver: cgroupfs",
    );
    expect_err(&doc, &["KubeletConfiguration", "cgroupDriver"]);
}

#[test]
fn durations_quantities_and_tokens_are_validated() {
    for ok in [
        "10s", "1m30s", "0s", "0", "1.5h", "-1m", "+300ms", "2h45m", "1h0m0s", "87600h", "1us",
        "1\u{b5}s", ".5s",
    ] {
        assert!(parse_go_duration(ok).is_ok(), "{ok} should parse");
    }
    for bad in [
        "",
        "10",
        "1h30",
        "s",
        ".s",
        "10 s",
        "5x",
        "1d",
        "-",
        "9999999999999h",
    ] {
        assert!(parse_go_duration(bad).is_err(), "{bad:?} should not parse");
    }
    let doc = KUBESPRAY_SHAPED.replace("configSyncPeriod: 15m0s", "configSyncPeriod: 15 minutes");
    expect_err(&doc, &["KubeProxyConfiguration", "configSyncPeriod"]);
    // a bare number is not a duration (Go: cannot unmarshal number into string)
    let doc = KUBESPRAY_SHAPED.replace("syncPeriod: 30s\nipvs", "syncPeriod: 30\nipvs");
    expect_err(&doc, &["iptables.syncPeriod"]);
    for ok in ["1Gi", "100Mi", "250m", "1.5", "1e3", "2E-2", "+5k", "0.5Ti"] {
        assert!(is_quantity(ok), "{ok}");
    }
    for bad in ["", "Gi", "1GB", "1.2.3", "ten", "1 Gi"] {
        assert!(!is_quantity(bad), "{bad}");
    }
    let doc = KUBESPRAY_SHAPED.replace("    memory: 1Gi", "    memory: lots");
    expect_err(&doc, &["reservedMemory[0].limits.memory"]);
    let doc = KUBESPRAY_SHAPED.replace("abcdef.0123456789abcdef", "ABCDEF.0123456789abcdef");
    expect_err(&doc, &["bootstrapTokens[0].token"]);
}

#[test]
fn required_fields_and_nil_vs_empty() {
    // JoinConfiguration needs discovery
    let err = check_document("apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\nnodeRegistration:\n  name: w1\n").unwrap_err();
    assert!(err.contains("discovery"), "{err}");
    // external etcd needs endpoints
    let doc =
        KUBESPRAY_SHAPED.replace("      endpoints:\n      - \"https://10.0.0.11:2379\"\n", "");
    expect_err(&doc, &["endpoints"]);
    // taints: [] (no taint) is kept apart from an absent taints (kubeadm's default taint)
    let with_empty =
        KUBEFORGE_SHAPED.replace("  name: \"cp1\"\n", "  name: \"cp1\"\n  taints: []\n");
    let docs = parse_multi(&with_empty).unwrap();
    let KubeDocument::Init(i) = &docs[0] else {
        panic!()
    };
    assert_eq!(
        i.nodeRegistration
            .as_ref()
            .unwrap()
            .taints
            .as_ref()
            .map(Vec::len),
        Some(0)
    );
    let docs = parse_multi(KUBEFORGE_SHAPED).unwrap();
    let KubeDocument::Init(i) = &docs[0] else {
        panic!()
    };
    assert!(i.nodeRegistration.as_ref().unwrap().taints.is_none());
}

#[test]
fn unknown_kinds_and_document_splitting() {
    let v1beta3 = KUBEFORGE_SHAPED.replacen("kubeadm.k8s.io/v1beta4", "kubeadm.k8s.io/v1beta3", 1);
    expect_err(&v1beta3, &["unsupported apiVersion/kind", "document 1"]);
    let no_kind = "apiVersion: kubeadm.k8s.io/v1beta4\nclusterName: x\n";
    assert!(check_document(no_kind).unwrap_err().contains("kind"));
    // leading marker, empty and comment-only documents, trailing marker, "..." end marker
    let text = format!("---\n# comment only\n---\n{KUBEFORGE_SHAPED}---\n...\n");
    assert_eq!(split_documents(&text).len(), 4);
    assert!(check_multi(&text).is_ok());
    // line numbers are reported against the whole file
    let doc = format!(
        "---\n{}",
        KUBEFORGE_SHAPED.replace("cgroupDriver: systemd", "cgroupDrivr: systemd")
    );
    let err = check_multi(&doc).unwrap_err();
    let line = doc
        .lines()
        .position(|l| l.starts_with("cgroupDrivr"))
        .unwrap()
        + 1;
    assert!(err.contains(&format!("line {line},")), "{err}");
    assert!(check_multi("").is_err());
}

#[test]
fn yaml_path_heuristic() {
    let doc = "a:\n  b:\n  - x\n  - y\n  c:\n    - name: n\n      value: v\n    - name: m\n";
    assert_eq!(yaml_path_at(doc, 1), "a");
    assert_eq!(yaml_path_at(doc, 4), "a.b[1]");
    assert_eq!(yaml_path_at(doc, 7), "a.c[0].value");
    assert_eq!(yaml_path_at(doc, 8), "a.c[1].name");
    let block = "k: |\n  not: a key\nz: 1\n";
    assert_eq!(yaml_path_at(block, 2), "k");
    assert_eq!(yaml_path_at(block, 3), "z");
}
