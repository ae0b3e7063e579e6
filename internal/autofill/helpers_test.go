package autofill_test

import corev1 "k8s.io/api/core/v1"

func corev1Container(name string) corev1.Container { return corev1.Container{Name: name} }
