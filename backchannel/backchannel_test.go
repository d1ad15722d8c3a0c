package backchannel

import (
	"net"
	"testing"
)

func TestPublicRefusesLatchsOwnNetworks(t *testing.T) {
	for _, tc := range []struct {
		ip     string
		public bool
	}{
		{"93.184.215.14", true},
		{"2606:4700::1111", true},
		{"127.0.0.1", false},
		{"::1", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"100.64.0.1", false},
		{"0.0.0.0", false},
		{"::", false},
		{"fe80::1", false},
		{"fd00::1", false},
		{"224.0.0.1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
	} {
		if got := Public(net.ParseIP(tc.ip)); got != tc.public {
			t.Errorf("Public(%s) = %t, want %t", tc.ip, got, tc.public)
		}
	}
}

func TestTheDialerChecksTheAddressItDials(t *testing.T) {
	if err := refusePrivate("tcp", "127.0.0.1:443", nil); err == nil {
		t.Error("loopback dialled")
	}
	if err := refusePrivate("tcp", "[fd00::1]:443", nil); err == nil {
		t.Error("a unique local address dialled")
	}
	if err := refusePrivate("tcp", "93.184.215.14:443", nil); err != nil {
		t.Errorf("a public address refused: %v", err)
	}
}
