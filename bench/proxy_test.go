package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestBareProxyForwards(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		_, _ = w.Write(b)
	}))
	defer upstream.Close()
	target, err := url.Parse(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(newBareProxy(target))
	defer proxy.Close()

	req, err := http.NewRequest(http.MethodPost, proxy.URL+chatPath, strings.NewReader(string(requestBody())))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if got, want := resp.Header.Get("X-Seen"), "POST "+chatPath+" Bearer x"; got != want {
		t.Errorf("upstream saw %q, want %q", got, want)
	}
	if string(body) != string(requestBody()) {
		t.Errorf("body not echoed: %s", body)
	}
}
