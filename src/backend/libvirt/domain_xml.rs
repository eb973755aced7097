//! The transient domain kbench boots, as libvirt XML. Every value that comes from the
//! scenario or the host is escaped: a command line holding `"`, `<`, `&` or `]]>` reaches
//! the guest as written and cannot change the document.

use crate::backend::Accel;

/// What one guest needs, with every file as a path on the host that runs it.
#[derive(Debug, Clone)]
pub struct DomainSpec {
    pub name: String,
    pub accel: Accel,
    /// TCG: `<cpu mode='maximum'/>` when the host's libvirt offers it (QEMU's `-cpu max`).
    pub maximum_cpu: bool,
    pub cpus: u32,
    pub memory_mib: u64,
    pub kernel: String,
    pub initrd: String,
    pub cmdline: String,
    pub disk: Option<Disk>,
    /// The `<metadata>` element naming who made the domain (`saved::Owner`): a restored
    /// domain is not auto-destroyed, so a later bench finds a killed one's by it.
    pub owner_metadata: String,
}

#[derive(Debug, Clone)]
pub struct Disk {
    pub path: String,
    /// "raw" or "qcow2".
    pub format: &'static str,
    /// `<transient/>`: writes go to an overlay libvirt throws away. A guest that may be
    /// saved runs on an overlay volume of kbench's instead (libvirt cannot save a guest
    /// with a transient disk).
    pub transient: bool,
}

/// The domain XML. serial0 is the console (console=ttyS0), serial1 the agent's channel
/// (`kbench_protocol::AGENT_PORT`); both are ptys, which libvirt hands out as streams on
/// any connection, remote ones too. The image is never written: the disk is `<transient/>`
/// or an overlay over it ([`Disk::transient`]).
pub fn domain_xml(spec: &DomainSpec) -> String {
    let kind = match spec.accel {
        Accel::Kvm => "kvm",
        Accel::Tcg => "qemu",
    };
    let cpu = match (spec.accel, spec.maximum_cpu) {
        (Accel::Kvm, _) => "  <cpu mode='host-passthrough'/>\n",
        (Accel::Tcg, true) => "  <cpu mode='maximum'/>\n",
        (Accel::Tcg, false) => "",
    };
    let disk = spec.disk.as_ref().map_or(String::new(), |disk| {
        format!(
            "    <disk type='file' device='disk'>\n      <driver name='qemu' type='{}'/>\n      <source file='{}'/>\n      <target dev='vda' bus='virtio'/>\n{}    </disk>\n",
            escape(disk.format),
            escape(&disk.path),
            if disk.transient { "      <transient/>\n" } else { "" }
        )
    });
    format!(
        "<domain type='{kind}'>
  <name>{name}</name>
  <metadata>{owner}</metadata>
  <memory unit='MiB'>{memory}</memory>
  <vcpu>{cpus}</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>{cmdline}</cmdline>
  </os>
  <features>
    <acpi/>
  </features>
{cpu}  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
{disk}    <serial type='pty'>
      <target port='0'/>
    </serial>
    <serial type='pty'>
      <target port='1'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
",
        name = escape(&spec.name),
        memory = spec.memory_mib,
        cpus = spec.cpus,
        kernel = escape(&spec.kernel),
        initrd = escape(&spec.initrd),
        cmdline = escape(&spec.cmdline),
        owner = spec.owner_metadata,
    )
}

/// `escape` undone, for values read back from libvirt's XML (`&amp;` last, so that an
/// escaped entity stays what it was).
pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// The text of the first `<tag>` in libvirt's XML, unescaped.
pub fn tag_text(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(unescape(&xml[start..end]))
}

pub use crate::xml::escape;

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(cmdline: &str) -> DomainSpec {
        DomainSpec {
            name: "kbench-1-a'b".into(),
            accel: Accel::Tcg,
            maximum_cpu: true,
            cpus: 2,
            memory_mib: 512,
            kernel: "/pool/k&1".into(),
            initrd: "/pool/<i>".into(),
            cmdline: cmdline.into(),
            disk: Some(Disk { path: "/pool/d\"isk".into(), format: "raw", transient: true }),
            owner_metadata: "<kbench:owner xmlns:kbench='https://kbench.invalid/o'>m-1-0</kbench:owner>".into(),
        }
    }

    #[test]
    fn every_value_survives_an_xml_parser_unchanged() {
        let hostile = r#"quiet x="a b" y=<z> &amp; 'q' ]]> <!-- --> </cmdline><on_crash>preserve"#;
        let xml = domain_xml(&spec(hostile));
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let text = |tag: &str| {
            let nodes: Vec<_> = doc.descendants().filter(|n| n.has_tag_name(tag)).collect();
            assert_eq!(nodes.len(), 1, "one <{tag}>");
            nodes[0].text().unwrap_or("").to_string()
        };
        assert_eq!(text("cmdline"), hostile);
        assert_eq!(text("name"), "kbench-1-a'b");
        assert_eq!(text("kernel"), "/pool/k&1");
        assert_eq!(text("initrd"), "/pool/<i>");
        assert_eq!(text("on_crash"), "destroy");
        let source = doc.descendants().find(|n| n.has_tag_name("source")).unwrap();
        assert_eq!(source.attribute("file"), Some("/pool/d\"isk"));
        assert!(doc.descendants().any(|n| n.has_tag_name("transient")), "the disk is never written");
        assert_eq!(doc.descendants().find(|n| n.has_tag_name("owner")).and_then(|n| n.text()), Some("m-1-0"));
        assert!(doc.descendants().any(|n| n.has_tag_name("acpi")), "the guest can power off");
        assert_eq!(doc.root_element().attribute("type"), Some("qemu"));
    }

    #[test]
    fn kvm_passes_the_host_cpu_and_tcg_the_maximum_model() {
        let mut kvm = spec("quiet");
        kvm.accel = Accel::Kvm;
        assert!(domain_xml(&kvm).contains("<domain type='kvm'>"));
        assert!(domain_xml(&kvm).contains("host-passthrough"));
        let mut plain = spec("quiet");
        plain.maximum_cpu = false;
        assert!(!domain_xml(&plain).contains("<cpu"));
        plain.disk = None;
        assert!(!domain_xml(&plain).contains("<disk"));
    }
}
