"""Accuracy and cost side by side, on the same lab path and the same number of packets:
guestagent's ICMP and DNS probers, `fping -C`, and Debian's prometheus-blackbox-exporter (ICMP
and DNS modules, queried on loopback inside the agent's namespace), against the truth the lab
knows (drops counted by nft, delays applied by the user-space responder).

    sudo python bench/accuracy.py [--packets 100] [--loss 10] [--delay-ms 30] [--jitter-ms 5]

Needs root (network namespaces). All traffic stays inside the lab's namespaces.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from guestagent import quality  # noqa: E402
from tests.lab.topology import Lab  # noqa: E402


def cpu_of_children(fn):
    """(result, CPU seconds of child processes) of fn()."""
    import resource
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = fn()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return result, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def stats(sent, rtts):
    received = len(rtts)
    return {"loss": (sent - received) / float(sent) if sent else None,
            "median": quality.median(rtts) if rtts else None,
            "jitter": quality.ipdv_jitter(rtts)}


def in_agent(lab, code, timeout=300):
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run(lab.exec_argv("agent", [sys.executable, "-c", code]),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, env=env, timeout=timeout)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout)


def guestagent_icmp(lab, address, packets, interval_s):
    code = """
import json
from guestagent.deadline import Deadline
from guestagent.probes import icmp
from guestagent.schema import Namespace
t = Namespace(name="far", host="{a}", kind="icmp", role="target", group=None, via="guestshell",
              vrf=None)
s = icmp.probe(t, Namespace(count={n}, interval_s={i}, timeout_s=1.0, size=56), Deadline(300))
print(json.dumps(s))
""".format(a=address, n=packets, i=interval_s)
    sample, cpu = cpu_of_children(lambda: in_agent(lab, code))
    return {"loss": sample["loss_ratio"], "median": sample["rtt_ms"]["median"],
            "jitter": sample["jitter_ms"]}, cpu


def guestagent_dns(lab, address, packets):
    code = """
import json
from guestagent.deadline import Deadline
from guestagent.probes import dns
from guestagent.schema import Namespace
t = Namespace(name="dns", host="{a}", kind="dns", role="dns", group=None, via="guestshell",
              vrf=None)
o = Namespace(query_name="qoe.lab", query_type="A", count={n}, interval_s=0.0, timeout_s=1.0,
              port=53, protocol="udp")
print(json.dumps(dns.probe(t, o, Deadline(300))))
""".format(a=address, n=packets)
    sample, cpu = cpu_of_children(lambda: in_agent(lab, code))
    return {"loss": sample["loss_ratio"], "median": sample["response_ms"]["median"],
            "jitter": None}, cpu


def fping(lab, address, packets, interval_s):
    def run():
        return subprocess.run(lab.exec_argv("agent", [
            "fping", "-C", str(packets), "-p", str(int(interval_s * 1000)), "-t", "1000", "-q",
            address]), stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    out, cpu = cpu_of_children(run)
    line = [l for l in out.stderr.splitlines() if l.startswith(address)][0]
    values = line.split(":", 1)[1].split()
    rtts = [float(v) for v in values if v != "-"]
    return stats(len(values), rtts), cpu


def blackbox(lab, address, packets, module, tmp):
    binary = shutil.which("prometheus-blackbox-exporter")
    if not binary:
        return None, None
    config = os.path.join(tmp, "blackbox.yml")
    with open(config, "w") as f:
        f.write("""modules:
  icmp:
    prober: icmp
    timeout: 1s
  dns:
    prober: dns
    timeout: 1s
    dns:
      query_name: qoe.lab
      query_type: A
      transport_protocol: udp
      preferred_ip_protocol: ip4
""")
    port = 19115
    proc = subprocess.Popen(lab.exec_argv("agent", [
        binary, "--config.file=" + config, "--web.listen-address=127.0.0.1:{}".format(port)]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        time.sleep(1.0)
        code = """
import json, re, time, urllib.request
rtts, sent = [], 0
for _ in range({n}):
    sent += 1
    text = urllib.request.urlopen("http://127.0.0.1:{p}/probe?module={m}&target={a}",
                                  timeout=5).read().decode()
    ok = re.search(r"^probe_success (\\S+)", text, re.M)
    dur = re.search(r"^probe_duration_seconds (\\S+)", text, re.M)
    rtt = re.search(r'^probe_icmp_duration_seconds{{phase="rtt"}} (\\S+)', text, re.M)
    if "{m}" == "dns":
        rtt = re.search(r'^probe_dns_duration_seconds{{phase="request"}} (\\S+)', text, re.M)
    if ok and float(ok.group(1)) == 1.0:
        rtts.append(float((rtt or dur).group(1)) * 1000.0)
    time.sleep(0.02)
print(json.dumps({{"sent": sent, "rtts": rtts}}))
""".format(n=packets, p=port, m=module, a=address)
        cpu_before = _proc_cpu(proc.pid)
        result, client_cpu = cpu_of_children(lambda: in_agent(lab, code))
        exporter_cpu = _proc_cpu(proc.pid) - cpu_before
        out = stats(result["sent"], result["rtts"])
        if module == "dns":
            out["jitter"] = None
        return out, exporter_cpu + client_cpu
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(5)


def _proc_cpu(pid):
    """CPU seconds of a process and its descendants (ip netns exec replaces itself)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/{}/stat".format(entry)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / float(tick)
    return total


def fmt(value, scale=1.0, digits=3):
    return "-" if value is None else "{:.{}f}".format(value * scale, digits)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=100)
    parser.add_argument("--loss", type=int, default=10, help="percent dropped at the ISP")
    parser.add_argument("--delay-ms", type=float, default=30.0)
    parser.add_argument("--jitter-ms", type=float, default=5.0)
    parser.add_argument("--interval", type=float, default=0.02)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("the lab needs root")
    tmp = tempfile.mkdtemp(prefix="guestagent-accuracy-")
    lab = Lab().up()
    try:
        lab.start_servers()
        log = os.path.join(tmp, "delays.jsonl")
        lab.start_delayer(args.delay_ms, args.jitter_ms, log_path=log)
        lab.set_loss("isp", "cpe", args.loss)
        rows = []
        for name, run in (
                ("guestagent icmp", lambda: guestagent_icmp(lab, lab.far, args.packets,
                                                            args.interval)),
                ("fping -C", lambda: fping(lab, lab.far, args.packets, args.interval)),
                ("blackbox icmp", lambda: blackbox(lab, lab.far, args.packets, "icmp", tmp))):
            open(log, "w").close()
            dropped_before = lab.dropped("isp")
            result, cpu = run()
            applied = [json.loads(l)["delay_ms"] for l in open(log)]
            dropped = lab.dropped("isp") - dropped_before
            truth = {"loss": dropped / float(args.packets), "median": quality.median(applied),
                     "jitter": quality.ipdv_jitter(applied)}
            rows.append((name, result, cpu, truth))
        lab.clear_loss("isp")
        for name, run in (("guestagent dns", lambda: guestagent_dns(lab, lab.target,
                                                                    args.packets)),
                          ("blackbox dns", lambda: blackbox(lab, lab.target, args.packets, "dns",
                                                            tmp))):
            result, cpu = run()
            rows.append((name, result, cpu, {"loss": 0.0, "median": None, "jitter": None}))
    finally:
        lab.down()
    print("lab: {} packets per tool, {}% echo requests dropped at the ISP, far end answers after "
          "{} +- {} ms".format(args.packets, args.loss, args.delay_ms, args.jitter_ms))
    print("{:<16} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>8}".format(
        "tool", "loss", "truth", "median ms", "truth", "jitter ms", "truth", "cpu s"))
    for name, result, cpu, truth in rows:
        if result is None:
            print("{:<16} (not installed)".format(name))
            continue
        print("{:<16} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>8}".format(
            name, fmt(result["loss"]), fmt(truth["loss"]), fmt(result["median"], digits=2),
            fmt(truth["median"], digits=2), fmt(result["jitter"], digits=2),
            fmt(truth["jitter"], digits=2), fmt(cpu, digits=2)))
    print("(truth: the lab's drop counter and the delays the responder applied during each "
          "tool's run; jitter = mean |difference| of consecutive RTTs)")


if __name__ == "__main__":
    main()
