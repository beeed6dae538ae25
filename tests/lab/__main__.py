"""Work with the lab by hand: `python -m tests.lab up` builds it and prints its names and
addresses (the namespaces stay until `python -m tests.lab down TAG`); `down` without a tag
removes every lab namespace on the machine."""

import sys

from tests.lab.topology import NODES, PREFIX, Lab, sh


def main(argv):
    if not argv or argv[0] not in ("up", "down"):
        sys.stderr.write("usage: python -m tests.lab up | down [TAG]\n")
        return 2
    if argv[0] == "up":
        lab = Lab().up()
        lab.start_servers()
        lab.processes = []  # leave the servers running with the namespaces
        print("lab {} is up".format(lab.tag))
        for node in NODES:
            print("  {:<6} ip netns exec {} ...".format(node, lab.ns[node]))
        print("  first hop {}  isp edge {}  target {} (http :80, dns :53)  far {}".format(
            lab.first_hop, lab.isp_edge, lab.target, lab.far))
        print("remove with: python -m tests.lab down {}".format(lab.tag))
        return 0
    names = sh("ip", "netns", "list", check=False).stdout.split()
    wanted = PREFIX + argv[1] if len(argv) > 1 else PREFIX
    for name in names:
        if name.startswith(wanted):
            sh("ip", "netns", "pids", name, check=False)
            for pid in sh("ip", "netns", "pids", name, check=False).stdout.split():
                sh("kill", pid, check=False)
            sh("ip", "netns", "del", name, check=False)
            print("removed", name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
